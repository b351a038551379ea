"""Connections: reused across requests and calls, never more than the requests in flight,
and a connection the server closed is never used again."""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading
from pathlib import Path
from typing import Any

import orjson
import pytest

from dashscope_embeddings import APIConnectionError, create_client
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


def _answer(number: int) -> bytes:
    body = orjson.dumps(
        {
            "output": {"embeddings": [{"text_index": 0, "embedding": [0.5] * 64}]},
            "usage": {"total_tokens": 1},
            "request_id": f"r-{number}",
        }
    )
    head = f"HTTP/1.1 200 OK\r\ncontent-length: {len(body)}\r\n\r\n"
    return head.encode() + body


class _OneAnswerPerConnection:
    """Answers one request per connection, keep-alive promised, then closes it."""

    def __init__(self) -> None:
        self.connections = 0
        self.closed = threading.Event()
        self._sock = socket.create_server(("127.0.0.1", 0))
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._sock.getsockname()[1]}/api/v1"

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            self.connections += 1
            with conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    data += conn.recv(65536)
                head, _, body = data.partition(b"\r\n\r\n")
                length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                while len(body) < length:
                    body += conn.recv(65536)
                conn.sendall(_answer(self.connections))
            self.closed.set()

    def close(self) -> None:
        self._sock.close()


def _client(server: _OneAnswerPerConnection) -> Any:
    # No retries: a closed connection reused would fail the call.
    return create_client(
        "text-embedding-v4", base_url=server.base_url, api_key="k", dimension=64, max_retries=0
    )


def test_a_connection_the_server_closed_is_not_reused_sync() -> None:
    server = _OneAnswerPerConnection()
    client = _client(server)
    for _ in range(3):
        server.closed.clear()
        assert len(client.embed_texts(["x"]).embeddings) == 1
        assert server.closed.wait(5)
    client.close()
    server.close()
    assert server.connections == 3


def test_a_connection_the_server_closed_is_not_reused_async() -> None:
    server = _OneAnswerPerConnection()
    client = _client(server)

    async def calls() -> None:
        for _ in range(3):
            server.closed.clear()
            assert len((await client.aembed_texts(["x"])).embeddings) == 1
            assert await asyncio.to_thread(server.closed.wait, 5)
        await client.aclose()

    asyncio.run(calls())
    server.close()
    assert server.connections == 3


class _TLSServer:
    """Answers every request on a connection (keep-alive) over TLS, counting connections."""

    def __init__(self, context: ssl.SSLContext) -> None:
        self.connections = 0
        self.requests = 0
        self._context = context
        self._sock = socket.create_server(("127.0.0.1", 0))
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def base_url(self) -> str:
        return f"https://localhost:{self._sock.getsockname()[1]}/api/v1"

    def _serve(self) -> None:
        while True:
            try:
                raw, _ = self._sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._one, args=(raw,), daemon=True).start()

    def _one(self, raw: socket.socket) -> None:
        try:
            with self._context.wrap_socket(raw, server_side=True) as conn:
                data = b""
                while True:
                    while b"\r\n\r\n" not in data:
                        chunk = conn.recv(65536)
                        if not chunk:
                            return
                        data += chunk
                    head, _, data = data.partition(b"\r\n\r\n")
                    length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                    while len(data) < length:
                        data += conn.recv(65536)
                    data = data[length:]
                    self.requests += 1
                    conn.sendall(_answer(self.requests))
        except (OSError, ssl.SSLError):
            return

    def close(self) -> None:
        self._sock.close()


def test_https_is_verified_and_its_connection_reused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    trustme = pytest.importorskip("trustme")
    authority = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("localhost").configure_cert(server_context)
    server = _TLSServer(server_context)
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
