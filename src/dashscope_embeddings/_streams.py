"""The async shell's HTTP/1.1, on asyncio streams.

httpcore's async connections run on anyio: a cancel scope around every read
and write, and a lock and a sniffio lookup at every step. At 32 requests in
flight on one event loop that came to ~1.8 ms of CPU per request, where a bare
asyncio client pays ~0.5 ms, and the answers of a round queued behind each
other on the loop: 1,000 texts reached 0.86 of the bound at 32 in flight,
against 0.96 for the bare client (``benchmarks/bare.py``). Here: 0.5-0.6 ms
per request, and 0.88-0.93 of the bound.

So the async shell speaks HTTP/1.1 itself, only as much as it needs: one
request with its body in memory; answers framed by ``Content-Length``, chunked
encoding or the end of the connection; keep-alive. Timeouts are the caller's:
``_transport._aexchange`` bounds the whole attempt and cancels it, and a
connection left mid-exchange (cancelled, failed, or its answer not read to the
end) is closed, never reused. The idle connections and the TLS context are
``_pool``'s, shared with the sync shell.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import httpcore
import httpx

from ._pool import KEEPALIVE, IdleConnections, TLSContext

__all__ = ["AsyncStreamTransport"]

_READ = 64 * 1024
"""Bytes asked of the stream per read, and the longest answer head accepted."""

Headers = list[tuple[bytes, bytes]]


class _Reader(asyncio.StreamReader):
    """A stream reader that lets what arrived be read before a broken connection
    shows: asyncio's raises the error at once, even over an answer already in
    its buffer, and a server that answers before it has read the whole body
    (a 413) and closes breaks the connection under our write. Here a break
    (a reset, a TLS error) reads as the end of the stream, after the answer;
    a body that ends early is a ``RemoteProtocolError`` all the same."""

    def set_exception(self, exc: BaseException) -> None:
        self.feed_eof()


class _Connection:
    __slots__ = ("idle_since", "origin", "reader", "reusable", "writer")

    def __init__(
        self, origin: httpcore.Origin, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.origin = origin
        self.reader = reader
        self.writer = writer
        self.reusable = False
        self.idle_since = time.monotonic()

    def can_handle_request(self, origin: httpcore.Origin) -> bool:
        return origin == self.origin

    def is_idle(self) -> bool:
        return self.reusable and not self.has_expired()

    def has_expired(self) -> bool:
        # A server that closed the connection while it was idle: its FIN is
        # already read by the loop (httpcore probes the socket for the same).
        return (
            self.reader.at_eof()
            or self.writer.is_closing()
            or time.monotonic() - self.idle_since > KEEPALIVE
        )

    def close(self) -> None:
        self.reusable = False
        self.writer.close()


class AsyncStreamTransport(httpx.AsyncBaseTransport):
    def __init__(self) -> None:
        self._idle: IdleConnections[_Connection] = IdleConnections()
        self._ssl = TLSContext()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        scheme = url.raw_scheme
        if scheme not in (b"http", b"https"):
            raise httpx.UnsupportedProtocol(f"unsupported URL scheme {url.scheme!r}")
        port = url.port or (443 if scheme == b"https" else 80)
        origin = httpcore.Origin(scheme, url.raw_host, port)
        message = _head(request) + await request.aread()
        connection, stale = self._idle.take(origin)
        for old in stale:
            old.close()
        if connection is None:
            connection = await self._connect(origin)
        try:
            broken = await _send(connection.writer, message)
            try:
                version, status, reason, headers = await _read_head(connection.reader)
            except httpx.HTTPError:
                if broken is not None:
                    raise httpx.WriteError(str(broken) or type(broken).__name__) from broken
                raise
            # A server that stopped reading our request keeps no connection.
            stream = _Body(
                connection, self._idle, request.method, status, version, headers, broken is None
            )
        except BaseException:
            connection.close()
            raise
        return httpx.Response(
            status_code=status,
            headers=headers,
            stream=stream,
            extensions={"http_version": version, "reason_phrase": reason},
        )

    async def _connect(self, origin: httpcore.Origin) -> _Connection:
        host = origin.host.decode("ascii")
        context = self._ssl.context(origin)
        loop = asyncio.get_running_loop()
        reader = _Reader(limit=_READ, loop=loop)
        try:
            transport, protocol = await loop.create_connection(
                lambda: asyncio.StreamReaderProtocol(reader, loop=loop),
                host,
                origin.port,
                ssl=context,
                server_hostname=host if context is not None else None,
            )
        except OSError as exc:  # ssl.SSLError included
            raise httpx.ConnectError(str(exc) or type(exc).__name__) from exc
        writer = asyncio.StreamWriter(transport, protocol, reader, loop)
        return _Connection(origin, reader, writer)

    async def aclose(self) -> None:
        for connection in self._idle.drain():
            connection.close()


async def _send(writer: asyncio.StreamWriter, message: bytes) -> OSError | None:
    """Write ``message``; the error if the connection broke on the way.

    Returned, not raised: a server may answer before it has read the whole
    body (a 413 for a body too large) and close, and that answer says more
    than the broken pipe (httpcore reads it too)."""
    writer.write(message)
    try:
        await writer.drain()
    except OSError as exc:
        return exc
    return None


def _head(request: httpx.Request) -> bytes:
    lines = [b"%s %s HTTP/1.1" % (request.method.encode("ascii"), request.url.raw_path)]
    lines += [name + b": " + value for name, value in request.headers.raw]
    return b"\r\n".join(lines) + b"\r\n\r\n"


async def _read_head(reader: asyncio.StreamReader) -> tuple[bytes, int, bytes, Headers]:
    """The answer's version, status, reason and headers (informational answers skipped)."""
    while True:
        try:
            raw = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as exc:
            if not exc.partial:
                raise httpx.RemoteProtocolError(
                    "Server disconnected without sending a response."
                ) from None
            raise httpx.RemoteProtocolError("the answer's head was cut off") from None
        except asyncio.LimitOverrunError:
            raise httpx.RemoteProtocolError(
                f"the answer's head exceeds {_READ // 1024} KB"
            ) from None
        status_line, *lines = raw[:-4].split(b"\r\n")
        version, _, rest = status_line.partition(b" ")
        code, _, reason = rest.partition(b" ")
        if version not in (b"HTTP/1.1", b"HTTP/1.0") or len(code) != 3 or not code.isdigit():
            raise httpx.RemoteProtocolError(f"malformed status line {status_line[:80]!r}")
        headers: Headers = []
        for line in lines:
            name, colon, value = line.partition(b":")
            if not colon or not name or name.strip() != name:
                raise httpx.RemoteProtocolError(f"malformed header line {line[:80]!r}")
            headers.append((name, value.strip(b" \t")))
        if not 100 <= int(code) < 200:
            return version, int(code), reason, headers


class _Body(httpx.AsyncByteStream):
    """An answer's body as it arrives; gives the connection back once read to its end."""

    def __init__(
        self,
        connection: _Connection,
        idle: IdleConnections[_Connection],
        method: str,
        status: int,
        version: bytes,
        headers: Headers,
        reusable: bool,
    ) -> None:
        self._connection = connection
        self._idle = idle
        self._complete = False
        self._closed = False
        fields: dict[bytes, bytes] = {}
        for name, value in headers:
            key = name.lower()
            fields[key] = fields[key] + b"," + value if key in fields else value
        encoding = fields.get(b"transfer-encoding", b"").lower()
        self._length: int | None = None
        self._chunked = False
        if method == "HEAD" or status in (204, 304):
            self._length = 0
        elif encoding:
            self._chunked = encoding.rsplit(b",", 1)[-1].strip() == b"chunked"
        elif b"content-length" in fields:
            lengths = {value.strip() for value in fields[b"content-length"].split(b",")}
            if len(lengths) != 1 or not next(iter(lengths)).isdigit():
                raise httpx.RemoteProtocolError("malformed Content-Length")
            self._length = int(lengths.pop())
        # Neither: the body runs to the end of the connection.
        closing = b"close" in fields.get(b"connection", b"").lower()
        self._keep = (
            reusable
            and version == b"HTTP/1.1"
            and not closing
            and (self._chunked or self._length is not None)
        )

    async def __aiter__(self) -> AsyncIterator[bytes]:
        reader = self._connection.reader
        try:
            if self._chunked:
                async for piece in _chunks(reader):
                    yield piece
            elif self._length is not None:
                left = self._length
                while left:
                    data = await reader.read(min(left, _READ))
                    if not data:
                        raise httpx.RemoteProtocolError(
                            f"server disconnected {left} bytes before the end of the answer"
                        )
                    left -= len(data)
                    yield data
            else:
                while data := await reader.read(_READ):
                    yield data
        except asyncio.IncompleteReadError:
            raise httpx.RemoteProtocolError(
                "server disconnected before the end of the answer"
            ) from None
        self._complete = True

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        connection = self._connection
        if self._complete and self._keep:
            connection.reusable = True
            connection.idle_since = time.monotonic()
            for old in self._idle.give(connection):
                old.close()
        else:
            connection.close()


async def _chunks(reader: asyncio.StreamReader) -> AsyncIterator[bytes]:
    """A chunked body's data, in reads of at most ``_READ`` bytes."""
    while True:
        line = await _line(reader)
        size_field = line.split(b";", 1)[0].strip()
        try:
            size = int(size_field, 16) if size_field.isalnum() else -1
        except ValueError:
            size = -1
        if size < 0:
            raise httpx.RemoteProtocolError(f"malformed chunk size {size_field[:20]!r}")
        if size == 0:
            while await _line(reader):  # trailers, up to the empty line
                pass
            return
        while size:
            data = await reader.read(min(size, _READ))
            if not data:
                raise asyncio.IncompleteReadError(b"", size)
            size -= len(data)
            yield data
        if await reader.readexactly(2) != b"\r\n":
            raise httpx.RemoteProtocolError("a chunk does not end with CRLF")


async def _line(reader: asyncio.StreamReader) -> bytes:
    try:
        return (await reader.readuntil(b"\r\n"))[:-2]
    except asyncio.LimitOverrunError:
        raise httpx.RemoteProtocolError("a chunk line is too long") from None
