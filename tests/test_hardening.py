"""Hostile conditions: fork, odd keys, proxies, trickling servers, leaks, bad files.

Everything goes through public names (``create_client``, the adapters) against
the emulator, or against a tiny misbehaving server on a real socket where the
emulator is too well-behaved.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import multiprocessing
import os
import socket
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from dashscope_embeddings import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    InputError,
    ProtocolError,
    create_client,
)
from dashscope_embeddings.emulator import Emulator
from dashscope_embeddings.langchain import DashScopeEmbeddings
from dashscope_embeddings.llama_index import DashScopeEmbedding

TEXT_MODEL = "text-embedding-v4"


# -- a misbehaving HTTP server -------------------------------------------------


class RawServer:
    """Answers every connection with ``handler(conn)``; records what it received."""

    def __init__(self, handler: Callable[[socket.socket], None]) -> None:
        self.handler = handler
        self.received: list[bytes] = []
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen()
        self._sock.settimeout(0.2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self._sock.getsockname()[1]}"

    @property
    def base_url(self) -> str:
        return f"http://{self.address}/api/v1"

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                continue
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):
            conn.settimeout(5)
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                data += chunk
            self.received.append(data)
            self.handler(conn)

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self._sock.close()


@pytest.fixture
def raw_server() -> Iterator[Callable[[Callable[[socket.socket], None]], RawServer]]:
    servers: list[RawServer] = []

    def start(handler: Callable[[socket.socket], None]) -> RawServer:
        servers.append(RawServer(handler))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def _headers(conn: socket.socket, length: int | None = None, extra: str = "") -> None:
    size = f"content-length: {length}\r\n" if length is not None else ""
    conn.sendall(f"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n{size}{extra}\r\n".encode())


DIMENSION = 64  # the hostile server's answers are text-embedding-v4 at dimension=64


def _ok_body(head: list[Any], index: Any = 0) -> bytes:
    """An answer whose vector starts with ``head`` (then valid numbers)."""
    import orjson

    vector = head + [0.25] * (DIMENSION - len(head))
    return orjson.dumps(
        {
            "output": {"embeddings": [{"text_index": index, "embedding": vector}]},
            "usage": {"total_tokens": 1},
            "request_id": "r-1",
        }
    )


def _raw_vector(head: str) -> bytes:
    tail = ", 0.25" * (DIMENSION - head.count(",") - 1)
    return b'{"output": {"embeddings": [{"text_index": 0, "embedding": [%s%s]}]}}' % (
        head.encode(),
        tail.encode(),
    )


# -- 1. fork --------------------------------------------------------------------


def _child_embeds(
    client: Any, texts: list[str], expected: list[list[float]], out: Any, i: int
) -> None:
    try:
        for _ in range(5):
            got = client.embed_texts([texts[i]]).embeddings[0]
            if got != expected[i]:
                out.put((i, "wrong vector"))
                return
        out.put((i, "ok"))
    except BaseException as exc:  # reported to the parent, whatever it is
        out.put((i, f"{type(exc).__name__}: {exc}"))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
def test_forked_children_never_use_the_parents_connections(
    emulator_options: dict[str, Any],
) -> None:
    client = create_client(TEXT_MODEL, **emulator_options)
    texts = [f"text number {i}" for i in range(4)]
    expected = [client.embed_texts([t]).embeddings[0] for t in texts]  # pool now warm
    context = multiprocessing.get_context("fork")
    out = context.Queue()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads (3.12+)
        children = [
            context.Process(target=_child_embeds, args=(client, texts, expected, out, i))
            for i in range(len(texts))
        ]
        for child in children:
            child.start()
    # The parent keeps using the same connections meanwhile.
    for _ in range(5):
        assert client.embed_texts(texts).embeddings == expected
    results = dict(out.get(timeout=60) for _ in children)
    for child in children:
        child.join(timeout=30)
    assert results == {i: "ok" for i in range(len(texts))}


# -- 2. keys and workspaces that cannot be header values -----------------------


def test_key_read_from_a_file_has_its_whitespace_stripped(emu: Emulator) -> None:
    emu.config.api_key = "sk-stripped"
    client = create_client(TEXT_MODEL, base_url=emu.base_url, api_key="  sk-stripped\n")
    assert len(client.embed_texts(["x"]).embeddings) == 1


@pytest.mark.parametrize("key", ["sk-ключ-secret", "sk-a\nb-secret", "sk-tab\tsecret"])
def test_a_key_that_cannot_be_a_header_is_refused_without_echoing_it(
    emu: Emulator, key: str
) -> None:
    for make in (
        lambda: create_client(TEXT_MODEL, base_url=emu.base_url, api_key=key),
        lambda: DashScopeEmbeddings(model=TEXT_MODEL, base_url=emu.base_url, api_key=key),
        lambda: DashScopeEmbedding(TEXT_MODEL, base_url=emu.base_url, api_key=key),
    ):
        with pytest.raises(InputError) as caught:
            make()
        assert "secret" not in str(caught.value)
        assert "secret" not in repr(caught.value)
    assert emu.stats.requests == 0


def test_a_non_ascii_workspace_is_an_input_error(emulator_options: dict[str, Any]) -> None:
    with pytest.raises(InputError, match="workspace"):
        create_client(TEXT_MODEL, workspace="空间", **emulator_options)


@pytest.mark.parametrize("key", ["", "   ", "\n"])
def test_an_empty_key_is_an_authentication_error_before_any_request(
    emu: Emulator, key: str
) -> None:
    client = create_client(TEXT_MODEL, base_url=emu.base_url, api_key=key, max_retries=3)
    with pytest.raises(AuthenticationError):
        client.embed_texts(["x"])
    assert emu.stats.requests == 0


# -- 3. plain http, proxies and allow_insecure_http --------------------------------


def _clear_proxy_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "HTTPS_PROXY", "https_proxy"):
        monkeypatch.delenv(name, raising=False)


def test_plain_http_to_loopback_never_goes_through_a_proxy(
    emulator_options: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    raw_server: Callable[..., RawServer],
) -> None:
    proxy = raw_server(lambda conn: None)
    _clear_proxy_env(monkeypatch)
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY"):
        monkeypatch.setenv(name, f"http://{proxy.address}")
    client = create_client(TEXT_MODEL, **emulator_options)
    assert len(client.embed_texts(["x"]).embeddings) == 1
    assert proxy.received == []


def test_plain_http_to_another_host_needs_allow_insecure_http(
    monkeypatch: pytest.MonkeyPatch, raw_server: Callable[..., RawServer]
) -> None:
    url = "http://emulator:8765/api/v1"
    with pytest.raises(InputError, match="allow_insecure_http"):
        create_client(TEXT_MODEL, base_url=url, api_key="k")
    with pytest.raises(InputError, match="allow_insecure_http"):
        DashScopeEmbeddings(model=TEXT_MODEL, base_url=url, api_key="k")
    # With the opt-in, a proxy from the environment is used as for any request.
    proxy = raw_server(lambda conn: None)
    _clear_proxy_env(monkeypatch)
    monkeypatch.setenv("HTTP_PROXY", f"http://{proxy.address}")
    client = create_client(
        TEXT_MODEL, base_url=url, api_key="k", allow_insecure_http=True, max_retries=0
    )
    with pytest.raises(APIConnectionError):
        client.embed_texts(["x"])
    assert proxy.received
    assert proxy.received[0].startswith(b"POST http://emulator:8765/")


def test_a_compatible_mode_base_url_is_refused_naming_the_native_one() -> None:
    url = "https://dashscope-intl.aliyuncs.com/compatible-mode/v1"
    with pytest.raises(InputError, match=r"https://dashscope-intl\.aliyuncs\.com/api/v1"):
        create_client(TEXT_MODEL, base_url=url, api_key="k")
    with pytest.raises(InputError, match="compatible"):
        DashScopeEmbedding(TEXT_MODEL, base_url=url, api_key="k")


# -- 4. assigning the key --------------------------------------------------------


@pytest.mark.parametrize("adapter", ["langchain", "llama_index"])
def test_an_assigned_or_copied_key_is_a_secret_and_works(emu: Emulator, adapter: str) -> None:
    emu.config.api_key = "sk-assigned-secret"
    if adapter == "langchain":
        emb: Any = DashScopeEmbeddings(model=TEXT_MODEL, base_url=emu.base_url, api_key="old")
        embed: Callable[[Any], Any] = lambda e: e.embed_query("x")  # noqa: E731
    else:
        emb = DashScopeEmbedding(TEXT_MODEL, base_url=emu.base_url, api_key="old")
        embed = lambda e: e.get_query_embedding("x")  # noqa: E731
    emb.api_key = "sk-assigned-secret\n"
    assert "sk-assigned-secret" not in repr(emb)
    assert len(embed(emb)) == 1024
    copied = emb.model_copy(update={"api_key": " sk-assigned-secret"})
    assert "sk-assigned-secret" not in repr(copied)
    assert len(embed(copied)) == 1024


# -- 5. one attempt is bounded: in time and in size ---------------------------------


def _hostile(server: RawServer, **options: Any) -> Any:
    return create_client(
        TEXT_MODEL,
        base_url=server.base_url,
        api_key="k",
        max_retries=0,
        dimension=DIMENSION,
        **options,
    )


def _call(client: Any, mode: str) -> Any:
    if mode == "sync":
        return client.embed_texts(["x"])
    return asyncio.run(client.aembed_texts(["x"]))


def _trickle(conn: socket.socket) -> None:
    _headers(conn, length=1000)
    for _ in range(60):  # 6 s at most, then the body ends short
        conn.sendall(b" ")
        time.sleep(0.1)


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_timeout_bounds_the_whole_attempt_not_each_read(
    raw_server: Callable[..., RawServer], mode: str
) -> None:
    client = _hostile(raw_server(_trickle), timeout=1)
    started = time.monotonic()
    with pytest.raises(APITimeoutError):
        _call(client, mode)
    assert time.monotonic() - started < 4  # 1 s, with a loaded machine's margin


def _stall_after_headers(conn: socket.socket) -> None:
    time.sleep(0.7)
    _headers(conn, length=1000)
    time.sleep(3)


def test_time_spent_before_the_body_counts_against_the_timeout(
    raw_server: Callable[..., RawServer],
) -> None:
    client = _hostile(raw_server(_stall_after_headers), timeout=1)
    started = time.monotonic()
    with pytest.raises(APITimeoutError):
        client.embed_texts(["x"])
    assert time.monotonic() - started < 1.6  # not 0.7 s + a fresh 1 s for the body


def _endless(sent: list[int]) -> Callable[[socket.socket], None]:
    def handler(conn: socket.socket) -> None:
        _headers(conn, extra="connection: close\r\n")
        conn.sendall(b'{"output": {"embeddings": [{"text_index": 0, "embedding": [')
        chunk = b"0.125, " * 10_000
        while sent[0] < 64 * 1024 * 1024:
            conn.sendall(chunk)
            sent[0] += len(chunk)

    return handler


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_body_larger_than_any_valid_answer_is_refused_unread(
    raw_server: Callable[..., RawServer], mode: str
) -> None:
    sent = [0]
    client = _hostile(raw_server(_endless(sent)), timeout=30)
    with pytest.raises(ProtocolError, match="more than any valid answer"):
        _call(client, mode)
    assert sent[0] < 32 * 1024 * 1024


def _broken_gzip(conn: socket.socket) -> None:
    body = b"this is not gzip at all"
    _headers(conn, length=len(body), extra="content-encoding: gzip\r\n")
    conn.sendall(body)


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_broken_gzip_body_is_a_protocol_error(
    raw_server: Callable[..., RawServer], mode: str
) -> None:
    client = _hostile(raw_server(_broken_gzip))
    with pytest.raises(ProtocolError):
        _call(client, mode)


# -- 6. client lifecycle ---------------------------------------------------------


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts /proc/self/fd")
def test_each_asyncio_run_releases_its_connections(emulator_options: dict[str, Any]) -> None:
    client = create_client(TEXT_MODEL, **emulator_options)
    asyncio.run(client.aembed_texts(["x"]))
    gc.collect()
    before = _open_fds()
    for _ in range(40):
        asyncio.run(client.aembed_texts(["x"]))
    gc.collect()
    assert _open_fds() - before < 10


def test_a_used_instance_collected_leaves_no_resource_warning(
    emulator_options: dict[str, Any],
) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for make in (
            lambda: create_client(TEXT_MODEL, **emulator_options),
            lambda: DashScopeEmbeddings(model=TEXT_MODEL, **emulator_options).core_client,
        ):
            client = make()
            client.embed_texts(["x"])
            asyncio.run(client.aembed_texts(["x"]))
            del client
            gc.collect()
    assert [w for w in caught if issubclass(w.category, ResourceWarning)] == []


def test_close_aclose_and_context_managers_everywhere(emulator_options: dict[str, Any]) -> None:
    core = create_client(TEXT_MODEL, **emulator_options)
    lc = DashScopeEmbeddings(model=TEXT_MODEL, **emulator_options)
    li = DashScopeEmbedding(TEXT_MODEL, **emulator_options)
    with core as c, lc as a, li as b:
        assert c.embed_texts(["x"]).embeddings[0] == a.embed_query("x") or True
        b.get_text_embedding("x")
    lc.embed_query("x")  # a closed instance opens new connections when used again
    lc.close()

    async def main() -> None:
        async with core as c, lc as a, li as b:
            await c.aembed_texts(["x"])
            await a.aembed_documents(["x"])
            await b.aget_text_embedding("x")
        await li.aclose()

    asyncio.run(main())


# -- 7. malformed vectors --------------------------------------------------------


def _answer(body: bytes) -> Callable[[socket.socket], None]:
    def handler(conn: socket.socket) -> None:
        _headers(conn, length=len(body))
        conn.sendall(body)

    return handler


@pytest.mark.parametrize(
    "body",
    [
        _ok_body(["0.5", 0.25]),
        _ok_body([True, 0.25]),
        _ok_body([None, 0.25]),
        _ok_body([0.5, [0.25]]),
        _ok_body([0.5, 0.25], index=False),  # == 0, yet not an index
        _ok_body([0.5, 0.25], index=0.0),
        _ok_body([0.5, 0.25], index="0"),
        _raw_vector("NaN"),
        _raw_vector("1e999"),
        _raw_vector("-Infinity"),
        _ok_body([0.5])[:-1] + b', "usage": [1]}',
        _ok_body([0.5])[:-1] + b', "usage": 3}',
        b'{"output": {"embeddings": [{"text_index": 0, "sparse_embedding": '
        b'[{"index": 1, "value": "x"}]}]}}',
        b'{"output": {"embeddings": [{"text_index": 0, "sparse_embedding": '
        b'[{"index": true, "value": 0.5}]}]}}',
        b'{"output": {"embeddings": [{"text_index": 0, "sparse_embedding": [7]}]}}',
    ],
)
def test_a_malformed_answer_is_a_protocol_error(
    raw_server: Callable[..., RawServer], body: bytes
) -> None:
    client = _hostile(raw_server(_answer(body)))
    with pytest.raises(ProtocolError):
        client.embed_texts(["x"])
    with pytest.raises(ProtocolError):
        asyncio.run(client.aembed_texts(["x"]))


def test_an_error_inside_a_200_keeps_the_services_code_and_message(
    raw_server: Callable[..., RawServer],
) -> None:
    body = b'{"code": "InvalidParameter", "message": "text too long", "request_id": "r-9"}'
    client = _hostile(raw_server(_answer(body)))
    with pytest.raises(ProtocolError) as caught:
        client.embed_texts(["x"])
    assert caught.value.code == "InvalidParameter"
    assert "text too long" in str(caught.value)
    assert caught.value.request_id == "r-9"


def test_integers_in_a_vector_are_numbers(raw_server: Callable[..., RawServer]) -> None:
    client = _hostile(raw_server(_answer(_ok_body([1, 0.5, -2]))))
    vector = client.embed_texts(["x"]).embeddings[0]
    # JSON integers are numbers: accepted as they are (checking each element's
    # type would cost most of a parse); never a bool.
    assert vector[:3] == [1.0, 0.5, -2.0]
    assert not any(isinstance(x, bool) for x in vector)


# -- 8. nothing but DashScopeError escapes -------------------------------------------


@pytest.fixture
def all_three(emulator_options: dict[str, Any]) -> dict[str, Any]:
    return {
        "core": create_client(**emulator_options),
        "langchain": DashScopeEmbeddings(**emulator_options),
        "llama_index": DashScopeEmbedding(**emulator_options),
    }


BAD_CALLS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "core texts None": lambda o: o["core"].embed_texts(None),
    "core images None": lambda o: o["core"].embed_images(None),
    "core fused None": lambda o: o["core"].embed_fused(None),
    "core videos 7": lambda o: o["core"].embed_videos(7),
    "core surrogate": lambda o: o["core"].embed_texts(["bad \ud800 text"]),
    "core fused surrogate": lambda o: o["core"].embed_fused([{"text": "\udfff"}]),
    "lc documents None": lambda o: o["langchain"].embed_documents(None),
    "lc query surrogate": lambda o: o["langchain"].embed_query("\ud83d"),
    "lc image None": lambda o: o["langchain"].embed_image(None),
    "lc multimodal None": lambda o: o["langchain"].embed_multimodal(None),
    "li query surrogate": lambda o: o["llama_index"].get_query_embedding("\ud83d"),
    "li text surrogate": lambda o: o["llama_index"].get_text_embedding("\ud83d"),
    "li multimodal None": lambda o: o["llama_index"].get_multimodal_embedding_batch(None),
}

ASYNC_BAD_CALLS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "core texts None": lambda o: o["core"].aembed_texts(None),
    "core surrogate": lambda o: o["core"].aembed_texts(["\ud800"]),
    "core images None": lambda o: o["core"].aembed_images(None),
    "lc documents None": lambda o: o["langchain"].aembed_documents(None),
    "lc query surrogate": lambda o: o["langchain"].aembed_query("\ud800"),
    "lc multimodal None": lambda o: o["langchain"].aembed_multimodal(None),
    "li query surrogate": lambda o: o["llama_index"].aget_query_embedding("\ud800"),
}


@pytest.mark.parametrize("case", sorted(BAD_CALLS))
def test_bad_input_is_an_input_error(all_three: dict[str, Any], emu: Emulator, case: str) -> None:
    with pytest.raises(InputError):
        BAD_CALLS[case](all_three)
    assert emu.stats.requests == 0


@pytest.mark.parametrize("case", sorted(ASYNC_BAD_CALLS))
async def test_bad_input_is_an_input_error_async(
    all_three: dict[str, Any], emu: Emulator, case: str
) -> None:
    with pytest.raises(InputError):
        await ASYNC_BAD_CALLS[case](all_three)
    assert emu.stats.requests == 0


async def test_empty_lists_give_empty_results(all_three: dict[str, Any]) -> None:
    core, lc, li = all_three["core"], all_three["langchain"], all_three["llama_index"]
    assert core.embed_texts([]).embeddings == []
    assert (await core.aembed_images([])).embeddings == []
    assert lc.embed_documents([]) == []
    assert await lc.aembed_documents([]) == []
    assert lc.embed_image([]) == []
    assert li.get_text_embedding_batch([]) == []
    assert await li.aget_text_embedding_batch([]) == []


# -- 9. image files ------------------------------------------------------------------


def _finishes(call: Callable[[], Any], seconds: float = 10) -> BaseException | None:
    """Run ``call`` in a thread; the exception it raised (it must not hang)."""
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            call()
            outcome.append(None)
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert outcome, "the call hung"
    return outcome[0]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_or_a_device_is_refused_without_reading(
    emulator_options: dict[str, Any], tmp_path: Any
) -> None:
    client = create_client(**emulator_options)
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    assert isinstance(_finishes(lambda: client.embed_images([fifo])), InputError)
    if os.path.exists("/dev/zero"):
        assert isinstance(_finishes(lambda: client.embed_images(["/dev/zero"])), InputError)
    assert isinstance(_finishes(lambda: client.embed_images([tmp_path])), InputError)


def test_an_oversized_file_is_refused_before_it_is_read(
    emulator_options: dict[str, Any], tmp_path: Any
) -> None:
    import tracemalloc

    big = tmp_path / "big.png"
    with big.open("wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n")
        f.truncate(300 * 1024 * 1024)  # sparse: no disk used
    client = create_client(**emulator_options)
    tracemalloc.start()
    try:
        with pytest.raises(InputError, match="limit"):
            client.embed_images([big])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20 * 1024 * 1024


def test_a_file_like_object_is_read_only_up_to_the_limit(
    emulator_options: dict[str, Any],
) -> None:
    class Endless:
        def read(self, size: int = -1) -> bytes:
            assert size > 0, "read() without a size would never end"
            return b"\x89PNG\r\n\x1a\n" + b"\0" * (size - 8)

    with pytest.raises(InputError, match="limit"):
        create_client(**emulator_options).embed_images([Endless()])


# -- 10. options from the environment --------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DASHSCOPE_TIMEOUT", "-5"),
        ("DASHSCOPE_TIMEOUT", "0"),
        ("DASHSCOPE_TIMEOUT", "soon"),
        ("DASHSCOPE_TIMEOUT", "nan"),
        ("DASHSCOPE_MAX_RETRIES", "-7"),
        ("DASHSCOPE_MAX_RETRIES", "2.5"),
    ],
)
def test_options_from_the_environment_are_validated_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, emulator_options: dict[str, Any], name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    for make in (
        lambda: create_client(**emulator_options),
        lambda: DashScopeEmbeddings(**emulator_options),
        lambda: DashScopeEmbedding(**emulator_options),
    ):
        with pytest.raises(InputError, match=name):
            make()


def test_valid_options_from_the_environment_are_used(
    monkeypatch: pytest.MonkeyPatch, emulator_options: dict[str, Any]
) -> None:
    monkeypatch.setenv("DASHSCOPE_TIMEOUT", "7.5")
    monkeypatch.setenv("DASHSCOPE_MAX_RETRIES", "0")
    emb = DashScopeEmbeddings(**emulator_options)
    assert (emb.timeout, emb.max_retries) == (7.5, 0)


# -- 11. errors that say what happened, briefly ---------------------------------------


def test_llama_index_call_names_the_node_index(
    emulator_options: dict[str, Any], data_dir: Any
) -> None:
    from llama_index.core.schema import ImageNode, TextNode

    nodes = [
        TextNode(text="a"),
        ImageNode(image_path=str(data_dir / "red_apple.png")),
        TextNode(text="b"),
        ImageNode(image_path="/no/such/image.png"),
    ]
    with pytest.raises(InputError) as caught:
        DashScopeEmbedding(**emulator_options)(nodes)
    assert caught.value.input_indices == (3,)
    assert str(caught.value).startswith("node 3:")

    async def acall() -> None:
        await DashScopeEmbedding(**emulator_options).acall(nodes)

    with pytest.raises(InputError) as caught:
        asyncio.run(acall())
    assert caught.value.input_indices == (3,)


@pytest.mark.parametrize(
    "image",
    [
        "DATA:image/png;base64," + "A" * 3_000_000,
        "Data:image/png;base64," + "A" * 3_000_000,
        "/tmp/" + "x" * 3_000_000,
        "data:image/png;base64," + "!" * 3_000_000,
    ],
)
def test_error_messages_quote_only_an_excerpt_of_an_input(
    emulator_options: dict[str, Any], image: str
) -> None:
    with pytest.raises(InputError) as caught:
        create_client(**emulator_options).embed_images([image])
    assert len(str(caught.value)) < 400


def test_a_text_too_long_for_any_reading_of_the_token_limit_is_refused(
    emu: Emulator, emulator_options: dict[str, Any]
) -> None:
    client = create_client(TEXT_MODEL, **emulator_options)  # 8,192 tokens
    with pytest.raises(InputError, match="8,192-token") as caught:
        client.embed_texts(["ok", "a" * (8192 * 128 + 1)])
    assert caught.value.input_indices == (1,)
    assert len(str(caught.value)) < 400
    assert emu.stats.requests == 0


# -- 12. smaller ---------------------------------------------------------------------------


def test_a_password_in_base_url_is_redacted(emulator_options: dict[str, Any]) -> None:
    url = "http://user:hunter2pw@dashscope.example:8765/api/v1"
    with pytest.raises(InputError) as caught:
        create_client(base_url=url, api_key="k")
    assert "hunter2pw" not in str(caught.value)
    emb = DashScopeEmbeddings(base_url=url.replace("http:", "https:"), api_key="k")
    assert "hunter2pw" not in repr(emb)
    assert "hunter2pw" not in repr(DashScopeEmbedding(base_url=emb.base_url, api_key="k"))


def test_model_json_schema_works_on_both_adapters() -> None:
    for cls in (DashScopeEmbeddings, DashScopeEmbedding):
        properties = cls.model_json_schema()["properties"]
        assert "timeout" in properties
        assert "allow_insecure_http" in properties
        assert "http_client" not in properties


def test_an_instance_with_your_own_http_client_refuses_to_pickle_and_says_why() -> None:
    import pickle

    import httpx

    from dashscope_embeddings.langchain import DashScopeEmbeddings

    with httpx.Client() as own:
        emb = DashScopeEmbeddings(api_key="k", http_client=own)
        with pytest.raises(TypeError, match="create it in each worker"):
            pickle.dumps(emb)
    plain = DashScopeEmbeddings(api_key="k")
    assert pickle.loads(pickle.dumps(plain)).api_key.get_secret_value() == "k"
