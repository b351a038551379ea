"""The core client both adapters call: inputs in, one vector per input out.

It glues the I/O-free parts (catalog, inputs, planner, responses) to the I/O
shells (transport, runner). Adapters translate framework calls into these
methods and nothing else.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx

from ._catalog import CATALOG, ModelSpec
from ._closing import Closing
from ._errors import DashScopeError, InputError, ProtocolError
from ._inputs import Item, fused_item, image_item, text_item, video_item
from ._limiter import ConcurrencyLimiter
from ._pacing import LocalPacer, Pacer
from ._planner import PlannedRequest, plan_requests
from ._responses import ParsedResponse, SparseVector, Vector, parse_response
from ._retry import RetryPolicy
from ._runner import GIVE_UP_AFTER, JobOutcome, Runner
from ._transport import Transport, TransportSettings

__all__ = [
    "ClientConfig",
    "DashScopeClient",
    "EmbeddingResult",
    "OutputType",
    "Role",
    "check_output_type",
]

logger = logging.getLogger("dashscope_embeddings")

Role = Literal["query", "document"]
OutputType = Literal["dense", "sparse", "dense&sparse"]


@dataclass(frozen=True)
class ClientConfig:
    """Validated options of one client; not public: ``_config.build_config`` makes it
    (``create_client`` and the adapters call that), and ``client.config`` reads it."""

    spec: ModelSpec
    transport: TransportSettings
    dimension: int | None = None
    """Expected vector length (set or model default); ``None`` for unknown models."""
    parameters: Mapping[str, Any] = field(default_factory=dict)
    """Sent with every request."""
    role_parameters: Mapping[Role, Mapping[str, Any]] = field(default_factory=dict)
    """Added for query or document calls (``instruct``, ``text_type``)."""
    batch_size: int | None = None
    max_concurrency: int = 16
    max_retries: int = 3
    requests_per_minute: float | None = None
    tokens_per_minute: float | None = None
    give_up_after: float = GIVE_UP_AFTER
    """Seconds without any success after which a call stops retrying (see ``_runner``)."""
    show_progress: bool = False


@dataclass(slots=True)
class EmbeddingResult:
    """Vectors in input order, plus what the service reported."""

    embeddings: list[Vector]
    """Empty for ``output_type="sparse"``."""
    sparse_embeddings: list[SparseVector] | None = None
    """Term id to weight, one per input, when the call asked for sparse output."""
    usage: dict[str, int] = field(default_factory=dict)
    """Every integer usage field the service sent, summed over the call's requests;
    nested fields flattened with dots (``input_tokens_details.image_tokens``)."""
    request_ids: list[str] = field(default_factory=list)

    def __repr__(self) -> str:
        # Counts, not numbers: the vectors of a large call print as megabytes,
        # and asyncio.run() formats its task's result once as it finishes.
        dimensions = {len(vector) for vector in self.embeddings}
        shape = f"{len(self.embeddings)} × {'/'.join(map(str, sorted(dimensions))) or 0}"
        sparse = None if self.sparse_embeddings is None else f"<{len(self.sparse_embeddings)}>"
        return (
            f"EmbeddingResult(embeddings=<{shape}>, sparse_embeddings={sparse}, "
            f"usage={self.usage!r}, request_ids=<{len(self.request_ids)}>)"
        )


class DashScopeClient(Closing):
    """Embeds texts, images, videos and fused items with one DashScope model.

    Thread-safe and usable from any number of event loops. Owns its HTTP
    clients unless you pass yours (for proxies or custom TLS). One concurrency
    limiter and one pacer per instance hold all of its traffic to
    ``max_concurrency`` and the configured rates; ``pacer`` (internal) swaps
    the local pacer for another implementation of ``Pacer``, such as one that
    shares an account's quota across a cluster.
    """

    def __init__(
        self,
        config: ClientConfig,
        *,
        http_client: httpx.Client | None = None,
        http_async_client: httpx.AsyncClient | None = None,
        pacer: Pacer | None = None,
    ) -> None:
        self.config = config
        self._transport = Transport(
            config.transport, http_client=http_client, http_async_client=http_async_client
        )
        if pacer is None:
            pacer = LocalPacer(config.requests_per_minute, config.tokens_per_minute)
        self._runner = Runner(
            ConcurrencyLimiter(config.max_concurrency),
            pacer,
            RetryPolicy(max_retries=config.max_retries),
            give_up_after=config.give_up_after,
        )

    def __getstate__(self) -> dict[str, Any]:
        return {"config": self.config}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["config"])  # type: ignore[misc]

    @property
    def spec(self) -> ModelSpec:
        return self.config.spec

    # -- the verbs: one per kind of input, sync and async -----------------------
    # Each decides its own off-loading: building image and fused items may read
    # files and base64-encode megabytes, so the async twins do it in a thread;
    # texts and video URLs are cheap.

    def embed_texts(
        self,
        texts: Sequence[str],
        role: Role = "document",
        *,
        output_type: OutputType | None = None,
    ) -> EmbeddingResult:
        """One vector per text; ``role`` picks the query or document parameters.

        ``output_type`` overrides the configured one for this call: ``"sparse"``
        fills ``sparse_embeddings`` only, ``"dense&sparse"`` both.
        """
        kind = self._output_type(output_type)
        return self._embed(_items(texts, text_item), role, kind)

    async def aembed_texts(
        self,
        texts: Sequence[str],
        role: Role = "document",
        *,
        output_type: OutputType | None = None,
    ) -> EmbeddingResult:
        kind = self._output_type(output_type)
        return await self._aembed(_items(texts, text_item), role, kind)

    def embed_images(self, images: Sequence[object]) -> EmbeddingResult:
        """One vector per image: URL, data URI, path, bytes, file-like or PIL image."""
        return self._embed(self._image_items(images), "document", "dense")

    async def aembed_images(self, images: Sequence[object]) -> EmbeddingResult:
        return await self._aembed(
            await asyncio.to_thread(self._image_items, images), "document", "dense"
        )

    def embed_videos(self, urls: Sequence[str]) -> EmbeddingResult:
        """One vector per video URL (the service fetches videos itself)."""
        return self._embed(_items(urls, video_item), "document", "dense")

    async def aembed_videos(self, urls: Sequence[str]) -> EmbeddingResult:
        return await self._aembed(_items(urls, video_item), "document", "dense")

    def embed_fused(self, items: Sequence[Mapping[str, Any]]) -> EmbeddingResult:
        """One fused vector per dict of ``text``, ``image``, ``images`` and ``video``."""
        return self._embed(self._fused_items(items), "document", "dense")

    async def aembed_fused(self, items: Sequence[Mapping[str, Any]]) -> EmbeddingResult:
        return await self._aembed(
            await asyncio.to_thread(self._fused_items, items), "document", "dense"
        )

    def _image_items(self, images: Sequence[object]) -> list[Item]:
        return _items(images, lambda value, position: image_item(value, position, self.spec))

    def _fused_items(self, items: Sequence[object]) -> list[Item]:
        return _items(items, lambda value, position: fused_item(value, position, self.spec))

    def _output_type(self, requested: OutputType | None) -> OutputType:
        if requested is None:
            configured: OutputType = self.config.parameters.get("output_type", "dense")
            return configured
        check_output_type(self.spec, requested)
        return requested

    # -- running a call ------------------------------------------------------------

    def _plan(
        self, items: Sequence[Item], role: Role, output_type: OutputType
    ) -> list[PlannedRequest]:
        parameters = {**self.config.parameters, **self.config.role_parameters.get(role, {})}
        parameters.pop("output_type", None)
        if output_type != "dense":  # the service's default: not sent
            parameters["output_type"] = output_type
        return plan_requests(items, self.spec, parameters, self.config.batch_size)

    # An empty call plans no request and assembles an empty result.

    def _embed(self, items: list[Item], role: Role, output: OutputType) -> EmbeddingResult:
        requests = self._plan(items, role, output)
        with self._progress(len(requests)) as tick:
            outcome = self._runner.run(requests, self._send, tick)
        return self._assemble(len(items), outcome, output)

    async def _aembed(self, items: list[Item], role: Role, output: OutputType) -> EmbeddingResult:
        requests = self._plan(items, role, output)
        with self._progress(len(requests)) as tick:
            outcome = await self._runner.arun(requests, self._asend, tick)
        return self._assemble(len(items), outcome, output)

    # One attempt each; the runner retries. Encoding again on a retry is cheap
    # next to the round trip, and keeps no body alive between attempts.

    def _send(self, request: PlannedRequest) -> ParsedResponse:
        prepared = self._transport.prepare(request.body)
        answer = self._transport.send(request.endpoint.path, prepared)
        return parse_response(request, answer.content, self.config.dimension)

    async def _asend(self, request: PlannedRequest) -> ParsedResponse:
        # Inline images are read from their files and base64-encoded as the
        # body is encoded: file I/O and milliseconds of CPU, off the loop.
        if request.inline_bytes:
            prepared = await self._transport.aprepare(request.body)
        else:
            prepared = self._transport.prepare(request.body)
        answer = await self._transport.asend(request.endpoint.path, prepared)
        return parse_response(request, answer.content, self.config.dimension)

    def _assemble(
        self, count: int, outcome: JobOutcome[ParsedResponse], output_type: OutputType
    ) -> EmbeddingResult:
        if outcome.error is not None:
            raise _partial(count, outcome.results, outcome.error, output_type)
        vectors: dict[int, Vector] = {}
        sparse: dict[int, SparseVector] = {}
        result = EmbeddingResult(embeddings=[])
        for response in outcome.results:
            vectors.update(response.vectors)
            sparse.update(response.sparse)
            for key, value in response.usage.items():
                result.usage[key] = result.usage.get(key, 0) + value
            if response.request_id:
                result.request_ids.append(response.request_id)
        wants_dense = output_type != "sparse"
        wants_sparse = output_type != "dense"
        missing = [
            i
            for i in range(count)
            if (wants_dense and i not in vectors) or (wants_sparse and i not in sparse)
        ]
        if missing:
            raise ProtocolError(
                "DashScope returned no vector for some inputs", input_indices=missing
            )
        lengths = {len(v) for v in vectors.values()}
        if len(lengths) > 1:
            raise ProtocolError(
                f"DashScope returned vectors of different lengths {sorted(lengths)}"
            )
        result.embeddings = [vectors[i] for i in range(count)] if wants_dense else []
        if wants_sparse:
            result.sparse_embeddings = [sparse[i] for i in range(count)]
        return result

    def _progress(self, total: int) -> _Progress:
        return _Progress(total if self.config.show_progress else 0)

    def close(self) -> None:
        self._transport.close()

    async def aclose(self) -> None:
        await self._transport.aclose()


def _partial(
    count: int, parsed: Sequence[ParsedResponse], error: DashScopeError, output_type: OutputType
) -> DashScopeError:
    """``error``, carrying what the call did get: one vector or ``None`` per input.

    The dense vector, or the sparse one when only sparse output was asked for.
    """
    embeddings: list[Any] = [None] * count
    for response in parsed:
        got: Mapping[int, Any] = response.sparse if output_type == "sparse" else response.vectors
        for position, vector in got.items():
            embeddings[position] = vector
    error.embeddings = embeddings
    error.input_indices = tuple(i for i, v in enumerate(embeddings) if v is None)
    return error


def check_output_type(spec: ModelSpec, output_type: str) -> None:
    """``InputError`` for an output type the model does not give, naming those that do."""
    if output_type in spec.output_types:
        return
    offering = [m.name for m in CATALOG.values() if output_type in m.output_types]
    raise InputError(
        f"output_type={output_type!r} is not available for {spec.name} "
        f"(takes {', '.join(spec.output_types)}); models with it: {', '.join(offering)}"
    )


def _items(values: Sequence[object], build: Callable[[Any, int], Item]) -> list[Item]:
    """One item per value, each built knowing its position (for error messages)."""
    return [build(value, position) for position, value in enumerate(_as_list(values))]


def _as_list(values: Sequence[object]) -> list[object]:
    if isinstance(values, (str, bytes)):
        raise InputError("expected a list of inputs, got a single str/bytes; wrap it in a list")
    try:
        return list(values)
    except TypeError:
        raise InputError(f"expected a list of inputs, got {type(values).__name__}") from None


class _Progress:
    """A tqdm bar over requests when asked for and installed; otherwise nothing."""

    def __init__(self, total: int) -> None:
        self._bar: Any = None
        if total > 1:
            try:
                from tqdm.auto import tqdm
            except ImportError:
                logger.warning("show_progress=True needs tqdm: pip install tqdm")
            else:
                self._bar = tqdm(total=total, unit="request", desc="DashScope embeddings")

    def __enter__(self) -> Callable[[], None] | None:
        return self._bar.update if self._bar is not None else None

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.close()
