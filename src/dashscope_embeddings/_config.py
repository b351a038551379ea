"""The one constructor of a client's configuration: plain option values in, ``ClientConfig`` out.

Resolves the region, looks the model up in the catalog (warning once for an
unknown one), refuses what the model does not take, and builds the request
parameters and transport settings. ``create_client`` and both framework
adapters come through here, so all three refuse the same options with the
same ``InputError``. Values arrive already of their types (the options model
checks types, environment defaults and ranges); this module owns the rules
that depend on the model. No I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import SecretStr

from ._catalog import PARAMETER_RANGES, REGIONS, ModelSpec, lookup, resolve_region
from ._client import ClientConfig, OutputType, Role, check_output_type
from ._errors import InputError
from ._transport import TransportSettings, check_base_url, check_header_value

__all__ = ["build_config"]


def build_config(
    model: str,
    *,
    api_key: SecretStr | None,
    base_url: str | None,
    region: str,
    workspace: str | None,
    dimension: int | None,
    query_instruct: str | None,
    document_instruct: str | None,
    text_type: str | None,
    output_type: OutputType,
    res_level: int | None,
    fps: float | None,
    max_video_frames: int | None,
    batch_size: int | None,
    max_concurrency: int,
    requests_per_minute: float | None,
    tokens_per_minute: float | None,
    max_retries: int,
    timeout: float,
    allow_insecure_http: bool,
    extra_parameters: Mapping[str, Any] | None,
    show_progress: bool,
    dense_only: str | None = None,
) -> ClientConfig:
    """The configuration of a client of ``model``; ``InputError`` for what the model refuses.

    Every option is passed: their defaults live in one place, the options'
    fields (``DashScopeOptions``), which also read the environment.

    ``dense_only`` names a class that returns dense vectors only, for which
    ``output_type="sparse"`` would leave nothing to return.
    """
    # No model/region availability warning: the vendor's lists change faster
    # than any table here, and the service's own answer is authoritative.
    spec = lookup(model)
    try:
        region = resolve_region(region)
    except KeyError:
        raise InputError(
            f"unknown region {region!r}; use one of {sorted(REGIONS)} (or 'intl')"
        ) from None
    numbers = {"res_level": res_level, "fps": fps, "max_video_frames": max_video_frames}
    _check_parameters(spec, dimension, query_instruct or document_instruct, text_type, numbers)
    check_output_type(spec, output_type)
    if output_type == "sparse" and dense_only:
        raise InputError(
            f"{dense_only} returns dense vectors; for sparse ones use "
            "DashScopeSparseEmbeddings (LangChain) or sparse_doc_fn/sparse_query_fn (LlamaIndex)"
        )
    if api_key is not None:
        check_header_value("api_key", api_key.get_secret_value())
    if workspace is not None:
        check_header_value("workspace", workspace)
    transport = TransportSettings(
        base_url=base_url or REGIONS[region],
        api_key=api_key,
        workspace=workspace,
        timeout=timeout,
        allow_insecure_http=allow_insecure_http,
    )
    check_base_url(transport.base_url, api_key is not None, allow_insecure_http)

    parameters: dict[str, Any] = {}
    if dimension is not None and spec.dimension_configurable:
        parameters["dimension"] = dimension
    if output_type != "dense":
        parameters["output_type"] = output_type
    parameters.update({name: value for name, value in numbers.items() if value is not None})
    parameters.update(extra_parameters or {})
    expected = parameters.get("dimension", dimension or spec.default_dimension)
    instructs: dict[Role, str | None] = {"query": query_instruct, "document": document_instruct}
    return ClientConfig(
        spec=spec,
        transport=transport,
        dimension=expected if isinstance(expected, int) else None,
        parameters=parameters,
        role_parameters={
            role: _role_parameters(spec, role, instructs[role], text_type)
            for role in ("query", "document")
        },
        batch_size=batch_size,
        max_concurrency=max_concurrency,
        max_retries=max_retries,
        requests_per_minute=requests_per_minute,
        tokens_per_minute=tokens_per_minute,
        show_progress=show_progress,
    )


def _role_parameters(
    spec: ModelSpec, role: Role, instruct: str | None, text_type: str | None
) -> dict[str, Any]:
    parameters: dict[str, Any] = {}
    if instruct is not None:
        parameters["instruct"] = instruct
    if spec.is_text and spec.takes("text_type"):
        parameters["text_type"] = "query" if role == "query" else (text_type or "document")
    return parameters


def _check_parameters(
    spec: ModelSpec,
    dimension: int | None,
    instruct: str | None,
    text_type: str | None,
    numbers: Mapping[str, float | None],
) -> None:
    if dimension is not None and not spec.accepts_dimension(dimension):
        allowed = ", ".join(map(str, spec.dimensions))
        hint = f"; {spec.dimension_hint}" if spec.dimension_hint else ""
        fixed = "fixed at" if not spec.dimension_configurable else "one of"
        raise InputError(
            f"dimension={dimension} is not available for {spec.name}: {fixed} {allowed}{hint}"
        )
    if instruct and not spec.takes("instruct"):
        raise InputError(
            f"{spec.name} does not take `instruct` (query_instruct/document_instruct); "
            "models that do: qwen3-vl-embedding, text-embedding-v4"
        )
    if text_type is not None and not spec.is_text:
        raise InputError(f"text_type applies to text-embedding models, not {spec.name}")
    for name, value in numbers.items():
        if value is None:
            continue
        if not spec.takes(name):
            raise InputError(f"{spec.name} does not take `{name}`")
        low, high = PARAMETER_RANGES[name]
        if not low <= value <= high:
            raise InputError(f"{name}={value} is out of range [{low:g}, {high:g}]")
