"""Connections: reused across requests and calls, never more than the requests in flight,
and a connection the server closed is never used again."""

from __future__ import annotations

import asyncio
import io
import os
import socket
import ssl
import threading
from pathlib import Path
from typing import Any

import orjson
import pytest

from dashscope_embeddings import APIConnectionError, DashScopeError, create_client
from dashscope_embeddings.emulator import Emulator

TEXTS = [f"text {i}" for i in range(200)]  # 20 requests of 10


def test_sync_calls_reuse_at_most_max_concurrency_connections(emu: Emulator) -> None:
    client = create_client(
        "text-embedding-v4", base_url=emu.base_url, api_key="k", max_concurrency=4
    )
    for _ in range(3):
        assert len(client.embed_texts(TEXTS).embeddings) == len(TEXTS)
    client.close()
    assert emu.stats.requests == 60
    assert 1 <= emu.stats.connections <= 4


def test_async_calls_on_one_loop_reuse_at_most_max_concurrency_connections(
    emu: Emulator,
) -> None:
    client = create_client(
        "text-embedding-v4", base_url=emu.base_url, api_key="k", max_concurrency=4
    )

    async def three_calls() -> None:
        for _ in range(3):
            assert len((await client.aembed_texts(TEXTS)).embeddings) == len(TEXTS)
        await client.aclose()

    asyncio.run(three_calls())
    assert emu.stats.requests == 60
    assert 1 <= emu.stats.connections <= 4


def _vector_body(number: int) -> bytes:
    return orjson.dumps(
        {
            "output": {"embeddings": [{"text_index": 0, "embedding": [0.5] * 64}]},
            "usage": {"total_tokens": 1},
            "request_id": f"r-{number}",
        }
    )


def _answer(number: int, head: bytes = b"HTTP/1.1 200 OK\r\n") -> bytes:
    """``head`` (status line and headers) with a Content-Length and the body."""
    body = _vector_body(number)
    return head + b"content-length: %d\r\n\r\n" % len(body) + body


def _read_request(conn: socket.socket, data: bytes) -> bytes | None:
    """One request (head, then a Content-Length body) after ``data`` already read;
    what follows it, or ``None`` if the client closed first."""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, data = data.partition(b"\r\n\r\n")
    length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
    while len(data) < length:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        data += chunk
    return data[length:]


class _Listener:
    """A loopback server: each connection is served by ``_one`` on a thread of
    its own. Counts connections and requests."""

    scheme, host = "http", "127.0.0.1"

    def __init__(self) -> None:
        self.connections = 0
        self.requests = 0
        self._sock = socket.create_server(("127.0.0.1", 0))
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def base_url(self) -> str:
        return f"{self.scheme}://{self.host}:{self._sock.getsockname()[1]}/api/v1"

    def _serve(self) -> None:
        while True:
            try:
                raw, _ = self._sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._one, args=(raw,), daemon=True).start()

    def _one(self, raw: socket.socket) -> None:
        raise NotImplementedError

    def close(self) -> None:
        self._sock.close()


class _Server(_Listener):
    """Answers requests with one vector, counting connections and requests.

    ``keep_alive=False``: one answer per connection (keep-alive promised all
    the same); the connection is closed at ``hang_up()``, once the client has
    put it back among its idle ones. ``tls``: the connections are wrapped with
    that server context.
    """

    def __init__(self, *, keep_alive: bool, tls: ssl.SSLContext | None = None) -> None:
        self._hang_up = threading.Event()
        self._closed = threading.Event()
        self._keep_alive = keep_alive
        self._tls = tls
        if tls is not None:  # the certificate names localhost
            self.scheme, self.host = "https", "localhost"
        super().__init__()

    def _one(self, raw: socket.socket) -> None:
        try:
            with self._tls.wrap_socket(raw, server_side=True) if self._tls else raw as conn:
                rest: bytes | None = b""
                while (rest := _read_request(conn, rest)) is not None:
                    self.requests += 1
                    conn.sendall(_answer(self.requests))
                    if not self._keep_alive:
                        self._hang_up.wait(5)
                        break
        except (OSError, ssl.SSLError):
            return
        self._closed.set()

    def hang_up(self) -> None:
        """Close the connection that got the last answer; return once it is closed."""
        self._hang_up.set()
        assert self._closed.wait(5)
        self._hang_up.clear()
        self._closed.clear()


def _client(server: _Listener) -> Any:
    # No retries: a closed connection reused would fail the call.
    return create_client(
        "text-embedding-v4", base_url=server.base_url, api_key="k", dimension=64, max_retries=0
    )


def test_a_connection_the_server_closed_is_not_reused_sync() -> None:
    server = _Server(keep_alive=False)
    client = _client(server)
    for _ in range(3):
        assert len(client.embed_texts(["x"]).embeddings) == 1
        server.hang_up()
    client.close()
    server.close()
    assert server.connections == 3


def test_a_connection_the_server_closed_is_not_reused_async() -> None:
    server = _Server(keep_alive=False)
    client = _client(server)

    async def calls() -> None:
        for _ in range(3):
            assert len((await client.aembed_texts(["x"])).embeddings) == 1
            await asyncio.to_thread(server.hang_up)
        await client.aclose()

    asyncio.run(calls())
    server.close()
    assert server.connections == 3


def test_https_is_verified_and_its_connection_reused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    trustme = pytest.importorskip("trustme")
    authority = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("localhost").configure_cert(server_context)
    server = _Server(keep_alive=True, tls=server_context)
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    options = {"api_key": "k", "dimension": 64, "max_retries": 0}
    try:
        # Not trusted yet: the certificate is refused.
        with pytest.raises(APIConnectionError, match="CERTIFICATE_VERIFY_FAILED"):
            create_client("text-embedding-v4", base_url=server.base_url, **options).embed_texts(
                ["x"]
            )
        authority.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
        monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "ca.pem"))
        client = create_client("text-embedding-v4", base_url=server.base_url, **options)
        before = server.connections
        for _ in range(3):
            assert len(client.embed_texts(["x"]).embeddings) == 1

        async def calls() -> None:
            for _ in range(3):
                assert len((await client.aembed_texts(["x"])).embeddings) == 1
            await client.aclose()

        asyncio.run(calls())
        client.close()
    finally:
        server.close()
    assert server.connections - before == 2  # one for the sync calls, one for the loop's


# -- how an answer is framed: both shells read every framing HTTP/1.1 allows --


def _chunked(body: bytes) -> bytes:
    # Uneven chunks, a chunk extension and a trailer: all legal, all to be skipped.
    pieces = [body[:7], body[7:500], body[500:]]
    out = b"".join(b"%x;ext=1\r\n%s\r\n" % (len(p), p) for p in pieces if p)
    return out + b"0\r\nx-trailer: yes\r\n\r\n"


class _Scripted(_Listener):
    """Answers request ``n`` (from 1) with ``answer(n)``: the raw bytes, and whether
    to close the connection after them."""

    def __init__(self, answer: Any) -> None:
        self._answer = answer
        super().__init__()

    def _one(self, conn: socket.socket) -> None:
        with conn:
            rest: bytes | None = b""
            while (rest := _read_request(conn, rest)) is not None:
                self.requests += 1
                data, close = self._answer(self.requests)
                conn.sendall(data)
                if close:
                    conn.shutdown(socket.SHUT_WR)
                    return


def _three_calls(server: _Scripted, mode: str) -> list[list[float]]:
    client = _client(server)
    if mode == "sync":
        vectors = [client.embed_texts(["x"]).embeddings[0] for _ in range(3)]
        client.close()
        return vectors

    async def calls() -> list[list[float]]:
        out = [(await client.aembed_texts(["x"])).embeddings[0] for _ in range(3)]
        await client.aclose()
        return out

    return asyncio.run(calls())


_FRAMINGS = {
    # name: (answer(n) -> (bytes, close), connections for three calls)
    "content-length": (lambda n: (_answer(n), False), 1),
    "chunked": (
        lambda n: (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + _chunked(_vector_body(n)),
            False,
        ),
        1,
    ),
    "100 Continue first": (
        lambda n: (_answer(n, b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n"), False),
        1,
    ),
    "connection: close": (
        lambda n: (_answer(n, b"HTTP/1.1 200 OK\r\nConnection: close\r\n"), True),
        3,
    ),
    "no length, to the end of the connection": (
        lambda n: (b"HTTP/1.1 200 OK\r\n\r\n" + _vector_body(n), True),
        3,
    ),
    "HTTP/1.0": (lambda n: (_answer(n, b"HTTP/1.0 200 OK\r\n"), True), 3),
}


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("framing", list(_FRAMINGS))
def test_every_framing_of_an_answer_is_read_and_reuses_only_a_kept_connection(
    framing: str, mode: str
) -> None:
    answer, connections = _FRAMINGS[framing]
    server = _Scripted(answer)
    try:
        vectors = _three_calls(server, mode)
    finally:
        server.close()
    assert vectors == [[0.5] * 64] * 3
    assert server.requests == 3
    assert server.connections == connections


_BROKEN = {
    "malformed status line": b"HTTP/1.1 OK\r\nContent-Length: 2\r\n\r\n{}",
    "body cut short": b'HTTP/1.1 200 OK\r\nContent-Length: 900\r\n\r\n{"output":',
    "chunk cut short": b'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n400\r\n{"out',
    "malformed chunk size": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\n{}\r\n",
    "closed without an answer": b"",
}


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("broken", list(_BROKEN))
def test_a_broken_answer_is_a_connection_error_never_a_vector(broken: str, mode: str) -> None:
    server = _Scripted(lambda n: (_BROKEN[broken], True))
    client = _client(server)
    call = client.embed_texts if mode == "sync" else lambda t: asyncio.run(client.aembed_texts(t))
    try:
        with pytest.raises(APIConnectionError):
            call(["x"])
    finally:
        client.close()
        server.close()
    assert server.requests == 1  # max_retries=0: one attempt, no retry


class _RefusesLargeBodies(_Listener):
    """Answers 413 as soon as it has a request's head, then closes without
    reading the body: a proxy or service refusing a body too large."""

    def _one(self, conn: socket.socket) -> None:
        with conn:
            data = b""
            while b"\r\n\r\n" not in data:
                data += conn.recv(65536)
            self.requests += 1
            body = b'{"code":"RequestTooLarge","message":"too large","request_id":"r-413"}'
            conn.sendall(
                b"HTTP/1.1 413 Payload Too Large\r\nConnection: close\r\n"
                b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
            )


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_an_answer_sent_before_the_body_was_read_is_the_error_raised(mode: str) -> None:
    # ~16 MB of body (base64 of 4 x 3 MB): more than loopback buffers hold,
    # so the write breaks before the body is out.
    image = pytest.importorskip("PIL.Image")
    buffer = io.BytesIO()
    image.frombytes("RGB", (1000, 1000), os.urandom(3_000_000)).save(buffer, "PNG")
    images = [buffer.getvalue()] * 4
    server = _RefusesLargeBodies()
    client = create_client(
        "qwen3-vl-embedding", base_url=server.base_url, api_key="k", max_retries=0
    )
    call = client.embed_images if mode == "sync" else lambda i: asyncio.run(client.aembed_images(i))
    try:
        with pytest.raises(DashScopeError) as raised:
            call(images)
    finally:
        client.close()
        server.close()
    assert raised.value.status_code == 413, raised.value
    assert raised.value.request_id == "r-413"
