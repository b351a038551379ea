"""The options both adapters share: fields, environment defaults, validation.

Both framework classes inherit these fields, so the two adapters accept the
same names with the same defaults and the same errors, and build the same
core client. Options are checked against the model catalog when the object is
made (and again when one is assigned), never at the first request.
"""

from __future__ import annotations

import enum
import os
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Literal

import httpx
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    field_validator,
)
from pydantic.json_schema import SkipJsonSchema
from typing_extensions import Self

from ._catalog import DEFAULT_MODEL, PARAMETER_RANGES, REGIONS, ModelSpec, lookup, resolve_region
from ._client import ClientConfig, DashScopeClient, OutputType, Role, check_output_type
from ._errors import InputError
from ._transport import TransportSettings, check_header_value, redact_url

__all__ = ["DashScopeOptions", "create_client"]


def _env(*names: str, default: str | None = None) -> Callable[[], str | None]:
    """A default factory reading the environment when the object is made."""

    def read() -> str | None:
        for name in names:
            value = os.environ.get(name)
            if value:
                return value
        return default

    return read


def _env_secret() -> SecretStr | None:
    key: SecretStr | None = _secret(os.environ.get("DASHSCOPE_API_KEY"))
    return key


def _secret(value: object) -> Any:
    """A key as a stripped ``SecretStr`` (keys read from files end in a newline);
    empty means none. Anything else is left to pydantic to refuse."""
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    if isinstance(value, str):
        value = value.strip()
        return SecretStr(value) if value else None
    return value


def _env_number(name: str, kind: type[float], default: float, minimum: float, strict: bool) -> Any:
    """A default factory for a number option, checked like the constructor argument."""

    def read() -> Any:
        raw = os.environ.get(name)
        if not raw:
            return default
        try:
            value = kind(raw)
        except ValueError:
            value = None
        if value is None or value < minimum or (strict and value == minimum) or value != value:
            bound = f"> {minimum:g}" if strict else f">= {minimum:g}"
            raise InputError(
                f"environment variable {name}={raw[:40]!r} is not valid: {bound} needed"
            )
        return value

    return read


class DashScopeOptions(BaseModel):
    """Configuration shared by ``DashScopeEmbeddings`` and ``DashScopeEmbedding``."""

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
        arbitrary_types_allowed=True,
        protected_namespaces=(),
    )

    api_key: SecretStr | None = Field(
        default_factory=_env_secret,
        alias="dashscope_api_key",
        exclude=True,
        description="DashScope API key; defaults to $DASHSCOPE_API_KEY.",
    )
    base_url: str | None = Field(
        default_factory=_env("DASHSCOPE_BASE_URL", "DASHSCOPE_HTTP_BASE_URL"),
        description="Native API base, e.g. https://dashscope.aliyuncs.com/api/v1; "
        "defaults to $DASHSCOPE_BASE_URL, else the region's.",
    )
    region: str = Field(
        default_factory=lambda: os.environ.get("DASHSCOPE_REGION") or "cn-beijing",
        description="'cn-beijing' or 'ap-southeast-1' (alias 'intl').",
    )
    workspace: str | None = Field(
        default_factory=_env("DASHSCOPE_WORKSPACE"),
        description="Sent as X-DashScope-WorkSpace; defaults to $DASHSCOPE_WORKSPACE.",
    )
    dimension: int | None = Field(default=None, description="Vector size; model default if unset.")
    query_instruct: str | None = Field(
        default=None, description="`instruct` sent with queries (models that take it)."
    )
    document_instruct: str | None = Field(
        default=None, description="`instruct` sent with documents (models that take it)."
    )
    text_type: Literal["query", "document"] | None = Field(
        default=None,
        description="text-embedding models: text_type of document calls (queries always "
        "send 'query'); automatic ('document') when unset.",
    )
    output_type: OutputType = Field(
        default="dense",
        description="'dense&sparse' asks text-embedding-v3/v4 for sparse vectors too, "
        "'sparse' for them alone (core client only: the framework classes return dense "
        "vectors; their sparse side is DashScopeSparseEmbeddings / sparse_doc_fn).",
    )
    res_level: int | None = Field(default=None, description="Image resolution level 0-3.")
    fps: float | None = Field(default=None, description="Video frame sampling rate, 0-1.")
    max_video_frames: int | None = Field(default=None, description="Frames sampled, 1-64.")
    batch_size: int | None = Field(
        default=None, gt=0, description="Inputs per request; clamped to the model's limit."
    )
    max_concurrency: int = Field(
        default=16,
        ge=1,
        description="Requests in flight per instance: one cap across all its threads, event "
        "loops, sync and async calls; halved on a 429 and recovered gradually.",
    )
    requests_per_minute: float | None = Field(
        default=None,
        gt=0,
        description="Pace the instance's requests to the account's quota (None: no pacing).",
    )
    tokens_per_minute: float | None = Field(
        default=None,
        gt=0,
        description="Pace the instance's tokens (estimated, never below the service's count).",
    )
    max_retries: int = Field(
        default_factory=_env_number("DASHSCOPE_MAX_RETRIES", int, 3, 0, strict=False),
        ge=0,
        description="Retries per request on 408/409/429/5xx, timeouts and connection errors; "
        "beyond them a request keeps trying while the call makes progress (0: never retry).",
    )
    timeout: float = Field(
        default_factory=_env_number("DASHSCOPE_TIMEOUT", float, 60.0, 0, strict=True),
        gt=0,
        description="Seconds for the whole of one attempt (connect, send, wait, read the body).",
    )
    allow_insecure_http: bool = Field(
        default=False,
        description="Permit sending the key over plain http:// to a non-loopback host, "
        "directly or through a proxy (an emulator in another container). Never implied.",
    )
    extra_parameters: dict[str, Any] = Field(
        default_factory=dict, description="Merged into `parameters` verbatim."
    )
    show_progress: bool = Field(default=False, description="tqdm progress bar over requests.")
    http_client: SkipJsonSchema[httpx.Client | None] = Field(
        default=None, exclude=True, repr=False, description="Your own httpx.Client."
    )
    http_async_client: SkipJsonSchema[httpx.AsyncClient | None] = Field(
        default=None, exclude=True, repr=False, description="Your own httpx.AsyncClient."
    )

    _client: DashScopeClient | None = PrivateAttr(default=None)

    _normalise_key = field_validator("api_key", mode="before")(_secret)

    @field_validator("workspace", mode="before")
    @classmethod
    def _strip_workspace(cls, value: Any) -> Any:
        return (value.strip() or None) if isinstance(value, str) else value

    def __repr_args__(self) -> Any:
        for name, value in super().__repr_args__():
            yield name, redact_url(value) if name == "base_url" and value else value

    _model_field: ClassVar[str]
    """The field naming the model: ``model`` (LangChain) or ``model_name`` (LlamaIndex)."""
    _returns_dense: ClassVar[bool] = True
    """Framework classes return dense vectors: ``output_type="sparse"`` would leave them none."""

    def _model_id(self) -> str:
        return str(getattr(self, self._model_field))

    def _configure(self) -> None:
        """Validate the options and build the client; called at the end of ``__init__``."""
        self._client = DashScopeClient(
            self._client_config(),
            http_client=self.http_client,
            http_async_client=self.http_async_client,
        )

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, str) and isinstance(value, enum.Enum):
            # A string enum (the llama_index migration names) stands for its value,
            # as it does at construction, where pydantic converts it.
            value = value.value
        # Only our options and the model shape requests: a framework's own fields
        # (LlamaIndex assigns callback_manager at every index build) must not
        # rebuild the client and repeat its warnings.
        configures = name in DashScopeOptions.model_fields or name == self._model_field
        private = self.__pydantic_private__
        if not configures or not private or private.get("_client") is None:
            super().__setattr__(name, value)
            return
        # An assigned option takes effect (and is checked, converted and
        # normalised like a constructor argument) at once, not silently never;
        # a refused one leaves the object as it was, not half-changed.
        previous = getattr(self, name)
        self._assign(name, value)
        try:
            self._configure()
        except InputError:
            super().__setattr__(name, previous)
            raise

    def _assign(self, name: str, value: Any) -> None:
        try:
            self.__pydantic_validator__.validate_assignment(self, name, value)
        except ValidationError as exc:
            # Not pydantic's text: it quotes the value, and this may be the key.
            problems = "; ".join(str(e["msg"]) for e in exc.errors())
            raise InputError(f"{name}: {problems}") from None

    @property
    def core_client(self) -> DashScopeClient:
        """The core client these options configure."""
        if self._client is None:
            self._configure()
        assert self._client is not None
        return self._client

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        copied = super().model_copy(deep=deep)
        # pydantic would write `update` straight into __dict__, unvalidated (a
        # str key would stay a str), and shares private attrs: without this the
        # copy would keep the old client.
        for name, value in (update or {}).items():
            copied._assign(name, value)
        copied._configure()
        return copied

    # -- lifecycle: the HTTP clients the instance owns ---------------------------

    def close(self) -> None:
        """Close the HTTP connections (a later call opens new ones)."""
        if self._client is not None:
            self._client.close()

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def __getstate__(self) -> dict[Any, Any]:
        # Live sockets and locks do not pickle; the client is rebuilt on first use.
        state = super().__getstate__()
        private = state.get("__pydantic_private__")
        if private:
            state["__pydantic_private__"] = {**private, "_client": None}
        fields = state.get("__dict__")
        if fields:
            state["__dict__"] = {**fields, "http_client": None, "http_async_client": None}
        return state

    def _client_config(self) -> ClientConfig:
        # The unknown-model warning points at the caller of the adapter's __init__.
        # No model/region availability warning: the vendor's lists change faster
        # than any table here, and the service's own answer is authoritative.
        spec = lookup(self._model_id(), stacklevel=4)
        try:
            region = resolve_region(self.region)
        except KeyError:
            raise InputError(
                f"unknown region {self.region!r}; use one of {sorted(REGIONS)} (or 'intl')"
            ) from None
        self._check_parameters(spec)
        if self.api_key is not None:
            check_header_value("api_key", self.api_key.get_secret_value())
        if self.workspace is not None:
            check_header_value("workspace", self.workspace)
        parameters: dict[str, Any] = {}
        if self.dimension is not None and (spec.dimension_configurable or not spec.known):
            parameters["dimension"] = self.dimension
        if self.output_type != "dense":
            parameters["output_type"] = self.output_type
        for name in ("res_level", "fps", "max_video_frames"):
            if getattr(self, name) is not None:
                parameters[name] = getattr(self, name)
        parameters.update(self.extra_parameters)
        expected = parameters.get("dimension", self.dimension or spec.default_dimension)
        return ClientConfig(
            spec=spec,
            transport=TransportSettings(
                base_url=self.base_url or REGIONS[region],
                api_key=self.api_key,
                workspace=self.workspace,
                timeout=self.timeout,
                max_retries=self.max_retries,
                allow_insecure_http=self.allow_insecure_http,
            ),
            dimension=expected if isinstance(expected, int) else None,
            parameters=parameters,
            role_parameters={
                "query": self._role_parameters(spec, "query"),
                "document": self._role_parameters(spec, "document"),
            },
            batch_size=self.batch_size,
            max_concurrency=self.max_concurrency,
            requests_per_minute=self.requests_per_minute,
            tokens_per_minute=self.tokens_per_minute,
            show_progress=self.show_progress,
        )

    def _role_parameters(self, spec: ModelSpec, role: Role) -> dict[str, Any]:
        parameters: dict[str, Any] = {}
        instruct = self.query_instruct if role == "query" else self.document_instruct
        if instruct is not None:
            parameters["instruct"] = instruct
        if spec.is_text and spec.takes("text_type"):
            parameters["text_type"] = "query" if role == "query" else (self.text_type or "document")
        return parameters

    def _check_parameters(self, spec: ModelSpec) -> None:
        if self.dimension is not None and spec.known and self.dimension not in spec.dimensions:
            allowed = ", ".join(map(str, spec.dimensions))
            hint = f"; {spec.dimension_hint}" if spec.dimension_hint else ""
            fixed = "fixed at" if not spec.dimension_configurable else "one of"
            raise InputError(
                f"dimension={self.dimension} is not available for {spec.name}: "
                f"{fixed} {allowed}{hint}"
            )
        if (self.query_instruct or self.document_instruct) and not spec.takes("instruct"):
            raise InputError(
                f"{spec.name} does not take `instruct` (query_instruct/document_instruct); "
                "models that do: qwen3-vl-embedding, text-embedding-v4"
            )
        if self.text_type is not None and not spec.is_text:
            raise InputError(f"text_type applies to text-embedding models, not {spec.name}")
        check_output_type(spec, self.output_type)
        if self.output_type == "sparse" and self._returns_dense:
            raise InputError(
                f"{type(self).__name__} returns dense vectors; for sparse ones use "
                "DashScopeSparseEmbeddings (LangChain) or sparse_doc_fn/sparse_query_fn "
                "(LlamaIndex)"
            )
        for name, (low, high) in PARAMETER_RANGES.items():
            value = getattr(self, name)
            if value is None:
                continue
            if not spec.takes(name):
                raise InputError(f"{spec.name} does not take `{name}`")
            if not low <= value <= high:
                raise InputError(f"{name}={value} is out of range [{low:g}, {high:g}]")


class _ClientOptions(DashScopeOptions):
    _model_field: ClassVar[str] = "model"
    _returns_dense: ClassVar[bool] = False
    model: str = DEFAULT_MODEL


def create_client(model: str = DEFAULT_MODEL, **options: Any) -> DashScopeClient:
    """A core client without a framework, taking the adapters' options.

    >>> client = create_client("text-embedding-v4", dimension=512)  # doctest: +SKIP
    >>> client.embed(client.text_items(["hello"]), role="query").embeddings  # doctest: +SKIP
    """
    return _ClientOptions(model=model, **options).core_client
