"""The sync shell's httpx transport, over a connection pool that costs O(1) per request.

httpcore 1.0's pool re-examines every connection for every queued request on
each request and each response (quadratic in the connections, with a socket
probe per idle one; encode/httpcore#1035). At 32 requests in flight that was
about 2 ms of CPU per request, half of the client's whole cost, and it grew
with ``max_concurrency``. Our limiter already bounds the requests in flight,
so the pool needs no queue and no cap: a request takes the most recently
used idle connection or opens one, and gives it back when its response is
closed. HTTP/1.1 only, as the service speaks. The idle connections and the
TLS context are shared with the async shell's transport (``_streams``).

Proxies are not this module's job: a base URL reached through a proxy from
the environment keeps httpx's own pool (see ``_transport``).
"""

from __future__ import annotations

import ssl
import threading
from collections import deque
from collections.abc import Iterator
from typing import Protocol, TypeVar

import httpcore
import httpx

__all__ = ["KEEPALIVE", "IdleConnections", "PooledTransport", "TLSContext"]

# Seconds an idle connection is kept: httpcore's default.
KEEPALIVE = 5.0


class _Connection(Protocol):
    def can_handle_request(self, origin: httpcore.Origin) -> bool: ...
    def is_idle(self) -> bool: ...
    def has_expired(self) -> bool: ...


C = TypeVar("C", bound=_Connection)


class IdleConnections(deque[C]):
    """Idle connections, most recently used last. Thread-safe: the sync client is
    shared by the runner's threads."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()

    def take(self, origin: httpcore.Origin) -> tuple[C | None, list[C]]:
        """A reusable connection to ``origin`` (or ``None``), and stale ones to close."""
        stale: list[C] = []
        with self._lock:
            while self:
                connection = self.pop()
                if connection.can_handle_request(origin) and not connection.has_expired():
                    return connection, stale
                stale.append(connection)
        return None, stale

    def give(self, connection: C) -> list[C]:
        """Keep ``connection`` if it can serve another request; what to close.

        Also drops expired connections from the old end, which LIFO reuse would
        otherwise leave holding sockets after a burst."""
        closing: list[C] = []
        with self._lock:
            if connection.is_idle():
                self.append(connection)
            else:
                closing.append(connection)
            while self and self[0].has_expired():
                closing.append(self.popleft())
        return closing

    def drain(self) -> list[C]:
        with self._lock:
            out = list(self)
            self.clear()
        return out


class TLSContext:
    """The TLS context, made at the first https connection: loading the CA
    bundle takes ~30 ms, which a plain-http emulator never needs."""

    def __init__(self) -> None:
        self._context: ssl.SSLContext | None = None
        # The sync transport's threads all open their first connections at
        # once: without the lock each would load the bundle itself.
        self._lock = threading.Lock()

    def context(self, origin: httpcore.Origin) -> ssl.SSLContext | None:
        if origin.scheme != b"https":
            return None
        with self._lock:
            if self._context is None:
                self._context = httpx.create_ssl_context()
            return self._context


def _core_request(request: httpx.Request) -> httpcore.Request:
    # The extensions dict is shared, not copied: the sync shell narrows the
    # read timeout of a request already sent (see _transport._exchange).
    return httpcore.Request(
        method=request.method,
        url=httpcore.URL(
            scheme=request.url.raw_scheme,
            host=request.url.raw_host,
            port=request.url.port,
            target=request.url.raw_path,
        ),
        headers=request.headers.raw,
        content=request.stream,
        extensions=request.extensions,
    )


# httpx's twin of each httpcore exception, most specific first in each MRO.
_ERRORS: dict[type[Exception], type[httpx.TransportError]] = {
    httpcore.ConnectTimeout: httpx.ConnectTimeout,
    httpcore.ReadTimeout: httpx.ReadTimeout,
    httpcore.WriteTimeout: httpx.WriteTimeout,
    httpcore.PoolTimeout: httpx.PoolTimeout,
    httpcore.TimeoutException: httpx.TimeoutException,
    httpcore.ConnectError: httpx.ConnectError,
    httpcore.ReadError: httpx.ReadError,
    httpcore.WriteError: httpx.WriteError,
    httpcore.NetworkError: httpx.NetworkError,
    httpcore.LocalProtocolError: httpx.LocalProtocolError,
    httpcore.RemoteProtocolError: httpx.RemoteProtocolError,
    httpcore.ProtocolError: httpx.ProtocolError,
    httpcore.ProxyError: httpx.ProxyError,
    httpcore.UnsupportedProtocol: httpx.UnsupportedProtocol,
}
_CORE_ERRORS = tuple(_ERRORS)


def _httpx_error(exc: Exception) -> httpx.TransportError:
    kind = next(_ERRORS[k] for k in type(exc).__mro__ if k in _ERRORS)
    return kind(str(exc))


class PooledTransport(httpx.BaseTransport):
    def __init__(self) -> None:
        self._idle: IdleConnections[httpcore.HTTPConnection] = IdleConnections()
        self._ssl = TLSContext()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        core = _core_request(request)
        origin = core.url.origin
        while True:
            connection, stale = self._idle.take(origin)
            for old in stale:
                old.close()
            reused = connection is not None
            if connection is None:
                connection = httpcore.HTTPConnection(
                    origin, ssl_context=self._ssl.context(origin), keepalive_expiry=KEEPALIVE
                )
            try:
                response = connection.handle_request(core)
            except httpcore.ConnectionNotAvailable:
                connection.close()
                if reused:  # closed since it was checked: open another
                    continue
                raise httpx.ConnectError("a new connection was not available") from None
            except _CORE_ERRORS as exc:
                connection.close()
                raise _httpx_error(exc) from exc
            except BaseException:
                connection.close()
                raise
            return httpx.Response(
                status_code=response.status,
                headers=response.headers,
                stream=_Body(response, connection, self._idle),
                extensions=response.extensions,
            )

    def close(self) -> None:
        for connection in self._idle.drain():
            connection.close()


class _Body(httpx.SyncByteStream):
    def __init__(
        self,
        response: httpcore.Response,
        connection: httpcore.HTTPConnection,
        idle: IdleConnections[httpcore.HTTPConnection],
    ) -> None:
        self._response = response
        self._connection = connection
        self._idle = idle

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self._response.iter_stream()
        except _CORE_ERRORS as exc:
            raise _httpx_error(exc) from exc

    def close(self) -> None:
        self._response.close()
        for connection in self._idle.give(self._connection):
            connection.close()
