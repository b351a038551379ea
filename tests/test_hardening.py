"""Hostile conditions: fork, odd keys, proxies, trickling servers, leaks, bad files.

Everything goes through public names (``create_client``, the adapters) against
the emulator, or against a tiny misbehaving server on a real socket where the
emulator is too well-behaved.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import socket
import threading
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from dashscope_embeddings import (
    APIConnectionError,
    AuthenticationError,
    InputError,
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


def _ok_body(vector: list[Any], index: Any = 0) -> bytes:
    import orjson

    return orjson.dumps(
        {
            "output": {"embeddings": [{"text_index": index, "embedding": vector}]},
            "usage": {"total_tokens": 1},
            "request_id": "r-1",
        }
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
