"""The core client over real sockets: concurrency, retries, errors, headers, isolation."""

from __future__ import annotations

import asyncio
import copy
import pickle
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest

from dashscope_embeddings import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    DashScopeClient,
    InputError,
    RateLimitError,
    ServerError,
    __version__,
    create_client,
)
from dashscope_embeddings.emulator import Emulator

TEXTS = [f"document number {i} about colour {c}" for i, c in enumerate(["red", "blue"] * 30)]


def _client(
    emulator_options: dict[str, Any], model: str = "text-embedding-v4", **kw: Any
) -> DashScopeClient:
    return create_client(model, **{**emulator_options, **kw})


def _embed(client: DashScopeClient, texts: list[str] = TEXTS) -> list[list[float]]:
    return client.embed_texts(texts).embeddings


def test_vectors_come_back_in_input_order_one_per_input(emulator_options: dict[str, Any]) -> None:
    client = _client(emulator_options)
    batched = _embed(client)
    singles = [_embed(client, [t])[0] for t in TEXTS[:12]]
    assert len(batched) == len(TEXTS)
    assert batched[:12] == singles
    assert all(len(v) == 1024 for v in batched)


def test_a_result_prints_its_shape_not_its_numbers(emulator_options: dict[str, Any]) -> None:
    # asyncio.run() formats its task's result as it finishes: with every float
    # printed, 1,000 vectors cost it a quarter of a second.
    result = _client(emulator_options, output_type="dense&sparse").embed_texts(TEXTS)
    shown = repr(result)
    assert shown.startswith("EmbeddingResult(embeddings=<60 × 1024>, sparse_embeddings=<60>")
    assert "request_ids=<6>" in shown
    assert len(shown) < 300


def test_sync_requests_really_overlap_up_to_max_concurrency(
    emu: Emulator, emulator_options: dict[str, Any]
) -> None:
    emu.config.latency = 0.1
    _embed(_client(emulator_options, max_concurrency=4))
    assert emu.stats.requests == 6
    assert emu.stats.max_in_flight == 4


async def test_async_requests_really_overlap_up_to_max_concurrency(
    emu: Emulator, emulator_options: dict[str, Any]
) -> None:
    emu.config.latency = 0.1
    client = _client(emulator_options, max_concurrency=5)
    vectors = (await client.aembed_texts(TEXTS)).embeddings
    assert len(vectors) == len(TEXTS)
    assert emu.stats.max_in_flight == 5


async def test_max_concurrency_holds_across_concurrent_calls_on_one_instance(
    emu: Emulator, emulator_options: dict[str, Any]
) -> None:
    emu.config.latency = 0.05
    client = _client(emulator_options, max_concurrency=3)
    await asyncio.gather(*(client.aembed_texts(TEXTS, role="query") for _ in range(3)))
    assert emu.stats.requests == 18
    assert emu.stats.max_in_flight == 3


def test_only_the_failed_batch_is_retried(emu: Emulator, emulator_options: dict[str, Any]) -> None:
    client = _client(emulator_options, max_concurrency=1)
    emu.inject(status=503, times=2)
    vectors = _embed(client, TEXTS[:30])
    assert len(vectors) == 30
    # 3 batches + 2 retries of what failed, not a restart of the job
    assert emu.stats.requests == 5
    firsts = [r.body["input"]["texts"][0] for r in emu.requests if r.status == 200]
    assert sorted(firsts) == sorted(TEXTS[0:30:10])


def test_retry_after_is_honoured(emu: Emulator, emulator_options: dict[str, Any]) -> None:
    emu.inject(status=429, times=1, retry_after=1, code="Throttling.RateQuota")
    client = _client(emulator_options)
    loop_time = _timed(lambda: _embed(client, ["one"]))
    assert 1.0 <= loop_time < 3.0
    assert emu.stats.requests == 2


def _timed(call: Any) -> float:
    import time

    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def test_a_429_is_back_pressure_not_a_failure_while_within_patience(
    emu: Emulator, emulator_options: dict[str, Any]
) -> None:
    emu.inject(status=429, times=4, retry_after=0, code="Throttling")
    client = _client(emulator_options, max_retries=2)
    assert len(_embed(client, ["a", "b"])) == 2
    assert emu.stats.requests == 5


def test_rate_limit_without_retries_is_typed(
    emu: Emulator, emulator_options: dict[str, Any]
) -> None:
    emu.inject(status=429, times=1, retry_after=0, code="Throttling")
    client = _client(emulator_options, max_retries=0)
    with pytest.raises(RateLimitError) as info:
        _embed(client, ["a", "b"])
    assert info.value.code == "Throttling"
    assert info.value.input_indices == (0, 1)
    assert info.value.request_id
    assert info.value.retry_after == 0
    assert emu.stats.requests == 1


def test_server_error_without_retries(emu: Emulator, emulator_options: dict[str, Any]) -> None:
    emu.inject(status=500, times=1)
    with pytest.raises(ServerError) as info:
        _embed(_client(emulator_options, max_retries=0), ["x"])
    assert info.value.status_code == 500
    assert emu.stats.requests == 1


def test_connection_reset_is_retried(emu: Emulator, emulator_options: dict[str, Any]) -> None:
    emu.inject(reset=True, times=1)
    assert len(_embed(_client(emulator_options), ["x"])) == 1
    assert emu.stats.requests == 2


def test_connection_errors_surface_typed() -> None:
    client = create_client(
        "text-embedding-v4", api_key="k", base_url="http://127.0.0.1:9/api/v1", max_retries=0
    )
    with pytest.raises(APIConnectionError):
        _embed(client, ["x"])


def test_timeout(emu: Emulator, emulator_options: dict[str, Any]) -> None:
    emu.inject(delay=2.0, times=1)
    with pytest.raises(APITimeoutError) as info:
        _embed(_client(emulator_options, timeout=0.3, max_retries=0), ["x"])
    assert info.value.input_indices == (0,)


def test_authentication_error_is_not_retried(
    emu: Emulator, emulator_options: dict[str, Any]
) -> None:
    emu.inject(status=401, times=1, code="InvalidApiKey")
    with pytest.raises(AuthenticationError):
        _embed(_client(emulator_options), ["x"])
    assert emu.stats.requests == 1


def test_missing_key_fails_before_the_network(emu: Emulator) -> None:
    client = create_client("text-embedding-v4", base_url=emu.base_url)
    with pytest.raises(AuthenticationError, match="DASHSCOPE_API_KEY"):
        _embed(client, ["x"])
    assert emu.stats.requests == 0


def test_headers_on_the_wire(emu: Emulator, emulator_options: dict[str, Any]) -> None:
    _embed(_client(emulator_options, workspace="ws-1"), ["x"])
    (request,) = emu.requests
    assert request.headers["authorization"] == "Bearer test-key"
    assert request.headers["x-dashscope-workspace"] == "ws-1"
    assert request.headers["user-agent"].startswith(f"dashscope-embeddings/{__version__}")
    assert request.headers["content-type"] == "application/json"


def test_two_instances_with_different_keys_never_interfere(emu: Emulator) -> None:
    a = create_client("text-embedding-v4", base_url=emu.base_url, api_key="key-a", workspace="wa")
    b = create_client("text-embedding-v4", base_url=emu.base_url, api_key="key-b")
    threads = [
        threading.Thread(target=_embed, args=(client, TEXTS[:20])) for client in (a, b, a, b)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seen = {
        (r.headers["authorization"], r.headers.get("x-dashscope-workspace")) for r in emu.requests
    }
    assert seen == {("Bearer key-a", "wa"), ("Bearer key-b", None)}


def test_users_own_http_client_is_used(emu: Emulator, emulator_options: dict[str, Any]) -> None:
    seen: list[str] = []
    http_client = httpx.Client(event_hooks={"request": [lambda r: seen.append(str(r.url))]})
    _embed(_client(emulator_options, http_client=http_client), ["x"])
    assert seen
    assert seen[0].startswith(emu.base_url)


def test_client_survives_asyncio_run_twice(emulator_options: dict[str, Any]) -> None:
    """A pooled async connection must never cross event loops."""
    client = _client(emulator_options)
    for _ in range(2):
        vectors = asyncio.run(client.aembed_texts(["x", "y"], role="query")).embeddings
        assert len(vectors) == 2


def test_pickle_and_copy_rebuild_the_transport(emulator_options: dict[str, Any]) -> None:
    client = _client(emulator_options)
    _embed(client, ["warm"])
    for clone in (pickle.loads(pickle.dumps(client)), copy.deepcopy(client)):
        assert _embed(clone, ["x"]) == _embed(client, ["x"])


def test_errors_pickle_with_their_fields() -> None:
    error = BadRequestError(
        "bad", status_code=400, code="InvalidParameter", request_id="r", input_indices=[3]
    )
    clone = pickle.loads(pickle.dumps(error))
    assert (type(clone), clone.code, clone.input_indices, str(clone)) == (
        BadRequestError,
        "InvalidParameter",
        (3,),
        str(error),
    )


def test_the_key_never_shows(emulator_options: dict[str, Any], emu: Emulator) -> None:
    client = _client({**emulator_options, "api_key": "sk-very-secret"})
    emu.inject(status=400, times=1, code="InvalidParameter")
    with pytest.raises(BadRequestError) as info:
        _embed(client, ["x"])
    for text in (repr(client), repr(client.config), str(info.value), repr(info.value)):
        assert "sk-very-secret" not in text


async def test_async_image_calls_read_images_off_the_event_loop(
    emu: Emulator, emulator_options: dict[str, Any]
) -> None:
    # A caller's file object may be a slow disk or a network stream: the async
    # verbs read it in a worker thread, never on the loop. (Encoding a big body
    # off the loop has no public trace short of timing, so no test pins it.)
    import io

    from PIL import Image as PILImage

    buffer = io.BytesIO()
    PILImage.new("RGB", (8, 8), (200, 0, 0)).save(buffer, format="PNG")
    loop_thread = threading.get_ident()
    readers: list[int] = []

    class Recording(io.BytesIO):
        def read(self, size: int | None = -1) -> bytes:
            readers.append(threading.get_ident())
            return super().read(size)

    client = _client(emulator_options, model="qwen3-vl-embedding")
    await client.aembed_images([Recording(buffer.getvalue())])
    await client.aembed_fused([{"text": "red", "image": Recording(buffer.getvalue())}])
    assert len(readers) == 2
    assert loop_thread not in readers
    assert emu.stats.requests == 2


async def test_image_files_are_encoded_on_one_thread_that_closing_ends(
    emulator_options: dict[str, Any], tmp_path: Path
) -> None:
    # Bodies with image files are encoded off the loop by one thread per
    # client (several at once finish together, late); close() ends it.
    from PIL import Image as PILImage

    paths = []
    for i in range(12):
        paths.append(tmp_path / f"{i}.png")
        PILImage.new("RGB", (8, 8), (20 * i, 0, 0)).save(paths[-1])
    before = set(threading.enumerate())
    client = _client(emulator_options, model="qwen3-vl-embedding", max_concurrency=4)
    result = await client.aembed_images(paths)
    assert len(result.embeddings) == 12
    encoders = [t for t in set(threading.enumerate()) - before if "encoder" in t.name]
    assert len(encoders) == 1
    await client.aclose()
    encoders[0].join(5)
    assert not encoders[0].is_alive()


def test_request_ids_one_per_request_as_the_service_sent_them(
    emu: Emulator, emulator_options: dict[str, Any]
) -> None:
    result = _client(emulator_options).embed_texts(TEXTS[:25])  # 10 + 10 + 5
    sent = [r.request_id for r in emu.requests]
    assert len(sent) == 3
    assert sorted(result.request_ids) == sorted(sent)
    assert len(set(result.request_ids)) == 3


@pytest.mark.parametrize("form", ["bytes", "path", "file"])
def test_an_image_exactly_at_the_size_limit_is_sent_one_byte_over_is_not(
    emu: Emulator, emulator_options: dict[str, Any], tmp_path: Any, form: str
) -> None:
    import io

    from PIL import Image as PILImage

    model = "multimodal-embedding-v1"  # 3 MB
    limit = 3 * 1024 * 1024
    buffer = io.BytesIO()
    PILImage.new("RGB", (8, 8), (0, 90, 200)).save(buffer, format="PNG")
    png = buffer.getvalue()

    def image(size: int) -> Any:
        data = png + b"\0" * (size - len(png))  # trailing bytes: still a PNG
        if form == "bytes":
            return data
        if form == "file":
            return io.BytesIO(data)
        path = tmp_path / f"{size}.png"
        path.write_bytes(data)
        return str(path)

    client = _client(emulator_options, model=model)
    (vector,) = client.embed_images([image(limit)]).embeddings
    assert len(vector) == 1024
    assert emu.stats.requests == 1
    with pytest.raises(InputError, match=r"input 0: .*over the 3 MB image limit") as info:
        client.embed_images([image(limit + 1)])
    assert info.value.input_indices == (0,)
    assert emu.stats.requests == 1


def test_response_validation_error_is_protocol_error() -> None:
    import dashscope_embeddings

    assert dashscope_embeddings.ProtocolError is dashscope_embeddings.ResponseValidationError
    assert {"ProtocolError", "ResponseValidationError"} <= set(dashscope_embeddings.__all__)
