"""The options both adapters share: fields, types, environment defaults.

Both framework classes inherit these fields, so the two adapters accept the
same names with the same defaults and the same errors. What depends on the
model is checked by ``_config.build_config``, to which these options only
forward their values: when the object is made and whenever one of them is
assigned (``validate_assignment``), never at the first request. The core
client is built lazily from the current values, and again once they change.
"""

from __future__ import annotations

import contextlib
import enum
import os
from collections.abc import Callable, Iterator, Mapping
from typing import Any, ClassVar, Literal

import httpx
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    field_validator,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema
from typing_extensions import Self

from ._catalog import DEFAULT_MODEL
from ._client import ClientConfig, DashScopeClient, OutputType
from ._closing import Closing
from ._config import build_config
from ._errors import InputError
from ._transport import redact_url

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


def _env_number_field(
    name: str, kind: type[float], default: float, *, minimum: float, strict: bool, description: str
) -> Any:
    """A number option that defaults from ``name`` in the environment; one bound
    (``>= minimum``, or ``> minimum`` when ``strict``) checks both the variable,
    naming it, and the constructor argument."""

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

    return Field(
        default_factory=read,
        description=description,
        gt=minimum if strict else None,
        ge=None if strict else minimum,
    )


class DashScopeOptions(BaseModel, Closing):
    """Configuration shared by ``DashScopeEmbeddings`` and ``DashScopeEmbedding``."""

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
        arbitrary_types_allowed=True,
        protected_namespaces=(),
        validate_assignment=True,
        # Messages never quote a value: it may be the key.
        hide_input_in_errors=True,
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
    max_retries: int = _env_number_field(
        "DASHSCOPE_MAX_RETRIES",
        int,
        3,
        minimum=0,
        strict=False,
        description="Retries per request on 408/409/429/5xx, timeouts and connection errors; "
        "beyond them a request keeps trying while the call makes progress (0: never retry).",
    )
    timeout: float = _env_number_field(
        "DASHSCOPE_TIMEOUT",
        float,
        60.0,
        minimum=0,
        strict=True,
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

    _config: ClientConfig | None = PrivateAttr(default=None)
    """What the current option values configure (set by validation)."""
    _client: DashScopeClient | None = PrivateAttr(default=None)
    _client_key: tuple[Any, ...] = PrivateAttr(default=())
    """What ``_client`` was built from: rebuilt when it differs from the current one."""

    _normalise_key = field_validator("api_key", mode="before")(_secret)

    @field_validator("workspace", mode="before")
    @classmethod
    def _strip_workspace(cls, value: Any) -> Any:
        return (value.strip() or None) if isinstance(value, str) else value

    @field_validator("*", mode="before")
    @classmethod
    def _plain_enum_values(cls, value: Any) -> Any:
        # A string enum (the llama_index migration names) stands for its value.
        return value.value if isinstance(value, str) and isinstance(value, enum.Enum) else value

    _model_field: ClassVar[str]
    """The field naming the model: ``model`` (LangChain) or ``model_name`` (LlamaIndex)."""
    _returns_dense: ClassVar[bool] = True
    """Framework classes return dense vectors: ``output_type="sparse"`` would leave them none."""

    def __init__(self, **data: Any) -> None:
        with _input_errors(None):
            super().__init__(**data)

    def __setattr__(self, name: str, value: Any) -> None:
        # pydantic validates the assignment (validate_assignment); this only
        # gives its refusal the package's error type.
        with _input_errors(name):
            super().__setattr__(name, value)

    @model_validator(mode="wrap")
    @classmethod
    def _configure(
        cls, data: Any, handler: ValidatorFunctionWrapHandler, info: ValidationInfo
    ) -> Any:
        name = info.field_name
        if name is None:  # construction
            options = handler(data)
            options._config = options._build_config()
            return options
        # An assignment. A framework's own fields (LlamaIndex assigns
        # callback_manager at every index build) leave the configuration alone.
        previous = getattr(data, name)
        options = handler(data)
        if name in DashScopeOptions.model_fields or name == cls._model_field:
            try:
                options._config = options._build_config()
            except InputError:
                # pydantic has already stored the value: a refused assignment
                # must leave the object as it was, not half-changed.
                options.__dict__[name] = previous
                raise
        return options

    def _build_config(self) -> ClientConfig:
        values = {name: getattr(self, name) for name in _FORWARDED}
        dense_only = type(self).__name__ if self._returns_dense else None
        return build_config(self._model_id(), dense_only=dense_only, **values)

    def __repr_args__(self) -> Any:
        for name, value in super().__repr_args__():
            yield name, redact_url(value) if name == "base_url" and value else value

    def _model_id(self) -> str:
        return str(getattr(self, self._model_field))

    @property
    def core_client(self) -> DashScopeClient:
        """The core client the current options configure, built on first use."""
        config = self._config
        if config is None:  # made without validation (model_construct)
            config = self._config = self._build_config()
        key = (config, self.http_client, self.http_async_client)
        client = self._client
        if client is None or not _same(self._client_key, key):
            client = self._client = DashScopeClient(
                config, http_client=self.http_client, http_async_client=self.http_async_client
            )
            self._client_key = key
        return client

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        """A copy with its own client; ``update`` is validated like an assignment."""
        copied = super().model_copy(deep=deep)
        copied._client = None
        for name, value in (update or {}).items():
            setattr(copied, name, value)
        return copied

    def __getstate__(self) -> dict[Any, Any]:
        # Your own httpx clients cannot cross processes, and a worker quietly
        # without your proxy or TLS settings would be worse than this error.
        if self.http_client is not None or self.http_async_client is not None:
            raise TypeError(
                f"{type(self).__name__} with your own http_client/http_async_client cannot "
                "be pickled: create it in each worker, or configure the proxy through the "
                "environment (HTTPS_PROXY) and let the instance own its clients"
            )
        return super().__getstate__()

    # -- lifecycle: the HTTP clients the instance owns ---------------------------

    def close(self) -> None:
        """Close the HTTP connections (a later call opens new ones)."""
        if self._client is not None:
            self._client.close()

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()


# The fields build_config takes: every option but the caller's own HTTP clients.
_FORWARDED = tuple(
    name
    for name in DashScopeOptions.model_fields
    if name not in ("http_client", "http_async_client")
)


def _same(old: tuple[Any, ...], new: tuple[Any, ...]) -> bool:
    # The config by value, the caller's HTTP clients by identity.
    return bool(old) and old[0] == new[0] and old[1] is new[1] and old[2] is new[2]


@contextlib.contextmanager
def _input_errors(assigned: str | None) -> Iterator[None]:
    """pydantic's ``ValidationError`` as the ``InputError`` a validator raised.

    An assigned value pydantic itself refuses (a type, a bound) is an
    ``InputError`` too; at construction such errors stay pydantic's, which
    name every field at once.
    """
    try:
        yield
    except ValidationError as exc:
        for error in exc.errors():
            cause = error.get("ctx", {}).get("error")
            if isinstance(cause, InputError):
                raise cause from None
        if assigned is None:
            raise
        problems = "; ".join(str(e["msg"]) for e in exc.errors())
        raise InputError(f"{assigned}: {problems}") from None


class _ClientOptions(DashScopeOptions):
    _model_field: ClassVar[str] = "model"
    _returns_dense: ClassVar[bool] = False
    model: str = DEFAULT_MODEL


def create_client(model: str = DEFAULT_MODEL, **options: Any) -> DashScopeClient:
    """A core client without a framework, taking the adapters' options.

    The options are checked for type, range and environment defaults like the
    adapters' fields, then configured by ``build_config``.

    >>> client = create_client("text-embedding-v4", dimension=512)  # doctest: +SKIP
    >>> client.embed_texts(["hello"], role="query").embeddings  # doctest: +SKIP
    """
    return _ClientOptions(model=model, **options).core_client
