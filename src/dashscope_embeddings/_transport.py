"""The HTTP shells: one POST attempt, sync and async, over httpx.

Each instance owns its clients; nothing is shared between instances, so two
configurations (keys, regions, workspaces) never interfere. The async client
is kept per event loop, because httpx connection pools cannot cross loops
(``asyncio.run`` called twice, or a test framework's loop per test), and is
closed when its loop shuts down. Clients never cross a ``fork()``: a child
that inherited them starts its own.

One attempt (``_exchange`` / ``_aexchange``) is bounded as a whole: by
``timeout`` seconds, and by a body size no valid answer to the request could
exceed.
"""

from __future__ import annotations

import asyncio
import os
import platform
import threading
import time
import urllib.request
import weakref
from collections.abc import AsyncGenerator, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import orjson
from pydantic import SecretStr

from ._errors import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    DashScopeError,
    InputError,
    ProtocolError,
)
from ._pool import PooledTransport
from ._responses import error_from_response
from ._retry import retry_after
from ._streams import AsyncStreamTransport
from ._version import __version__
from ._wire import dumps, is_loopback_host

__all__ = [
    "Transport",
    "TransportSettings",
    "check_header_value",
    "redact_url",
]

USER_AGENT = (
    f"dashscope-embeddings/{__version__} python/{platform.python_version()} "
    f"httpx/{httpx.__version__}"
)


def redact_url(url: str) -> str:
    """``url`` without its userinfo (a password in a base URL is a secret too)."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc="***@" + parts.netloc.rsplit("@", 1)[1]))


def check_base_url(base_url: str, has_key: bool, allow_insecure_http: bool = False) -> None:
    """Refuse a base URL that would leak the key or cannot work."""
    shown = redact_url(base_url)
    try:
        parts = urlsplit(base_url)
        host = parts.hostname
    except ValueError:
        host = None
    if host is None or parts.scheme not in ("http", "https"):
        raise InputError(f"base_url must be an http(s) URL, got {shown[:120]!r}")
    if "/compatible-mode" in parts.path:
        native = urlunsplit(parts._replace(path="/api/v1", netloc=parts.netloc.rsplit("@")[-1]))
        raise InputError(
            f"base_url {shown!r} is the OpenAI-compatible API, which has no multimodal "
            f"embeddings; use the native API base, e.g. {native!r}"
        )
    if (
        parts.scheme == "http"
        and has_key
        and not allow_insecure_http
        and not is_loopback_host(host)
    ):
        raise InputError(
            f"refusing to send the API key over plain http to {host}; use https. Plain http "
            "goes only straight to loopback (e.g. a local emulator); for another host, such "
            "as an emulator in another container, pass allow_insecure_http=True"
        )


def check_header_value(name: str, value: str) -> None:
    """Refuse what cannot be an HTTP header value, without echoing it (it may be the key)."""
    if not (value.isascii() and value.isprintable()):
        raise InputError(
            f"{name} contains non-ASCII or control characters, which cannot be sent in an "
            "HTTP header (the value is not shown here)"
        )


@dataclass(frozen=True)
class TransportSettings:
    base_url: str
    api_key: SecretStr | None
    workspace: str | None
    timeout: float
    allow_insecure_http: bool = False

    def headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
        if self.api_key is not None:
            headers["Authorization"] = f"Bearer {self.api_key.get_secret_value()}"
        if self.workspace:
            headers["X-DashScope-WorkSpace"] = self.workspace
        return headers


Prepared = tuple[bytes, dict[str, str], int]
"""The encoded body, the headers, and the largest answer the request may get."""


@dataclass(frozen=True, slots=True)
class Answer:
    """A 2xx body. Its request id is read from the body by the parser, which has
    the request to name in an error; the header would only repeat it."""

    content: bytes


class _Clients:
    """The httpx clients one transport owns, in one process.

    Kept apart from the ``Transport`` so that a finalizer can close them
    when a used transport is garbage-collected (no ``ResourceWarning``).
    """

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.lock = threading.Lock()
        self.sync: httpx.Client | None = None
        self.by_loop: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, tuple[httpx.AsyncClient, AsyncGenerator[None, None]]
        ] = weakref.WeakKeyDictionary()
        self._encoder: ThreadPoolExecutor | None = None

    def encoder(self) -> ThreadPoolExecutor:
        """One thread that encodes bodies with inline images, in the order asked.

        Encoding is CPU work under the GIL: several threads at it finish their
        bodies together, late, and starve the event loop meanwhile; one thread
        hands them out one by one, so the first request leaves as soon as its
        body is ready (200 images at 32 in flight: 0.65 -> 0.8 of the bound).
        """
        with self.lock:
            if self._encoder is None:
                self._encoder = ThreadPoolExecutor(1, thread_name_prefix="dashscope-encoder")
            return self._encoder

    def release_closed_loops(self) -> None:
        # A loop closed without shutting down its async generators (a bare
        # loop.close()) cannot run aclose() any more: drop its client, whose
        # sockets the garbage collector then closes.
        for loop in [loop for loop in list(self.by_loop) if loop.is_closed()]:
            self.by_loop.pop(loop, None)

    def close(self) -> None:
        if self.pid != os.getpid():
            return
        with self.lock:
            client, self.sync = self.sync, None
            encoder, self._encoder = self._encoder, None
        if client is not None:
            client.close()
        if encoder is not None:
            encoder.shutdown(wait=False)
        # Dropping an async client's closer hands it to its loop's async
        # generator finalizer, which closes the client on that loop (from
        # any thread), unless the loop is closed already.
        self.by_loop.clear()


class Transport:
    """POSTs JSON to one DashScope base URL, one attempt per call; raises typed errors."""

    def __init__(
        self,
        settings: TransportSettings,
        *,
        http_client: httpx.Client | None = None,
        http_async_client: httpx.AsyncClient | None = None,
    ) -> None:
        # ``settings`` come from ``build_config``, which checked the base URL.
        self._settings = settings
        self._user_client = http_client
        self._user_async_client = http_async_client
        self._clients = _Clients()
        self._finalizer = weakref.finalize(self, self._clients.close)
        self._urls: dict[str, httpx.URL] = {}
        # Clients a forked child inherited: never used and never closed there
        # (closing would end the parent's TLS sessions), only kept from the
        # garbage collector for the same reason.
        self._inherited: list[_Clients] = []

    # Sockets, locks and loops do not cross processes: a copy starts fresh.
    def __getstate__(self) -> dict[str, Any]:
        return {"settings": self._settings}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["settings"])  # type: ignore[misc]

    def _url(self, path: str) -> httpx.URL:
        # Parsed once per endpoint: httpx parses and validates a str URL on
        # every request (~0.1 ms of pure Python each).
        url = self._urls.get(path)
        if url is None:
            url = self._urls[path] = httpx.URL(self._settings.base_url.rstrip("/") + path)
        return url

    def _client_kwargs(
        self, pooled: type[PooledTransport | AsyncStreamTransport]
    ) -> dict[str, Any]:
        scheme = urlsplit(self._settings.base_url).scheme
        # Proxies from the environment only where the key cannot be read on
        # the way: https (tunnelled), or plain http the user allowed.
        trust_env = self._settings.allow_insecure_http or scheme == "https"
        kwargs: dict[str, Any] = {
            "timeout": httpx.Timeout(self._settings.timeout),
            "follow_redirects": False,
            "trust_env": trust_env,
            # No cap of httpx's own: the limiter bounds the requests in flight.
            "limits": httpx.Limits(max_connections=None, max_keepalive_connections=32),
        }
        # httpx ignores the environment's proxies when given a transport, so
        # a proxied base URL keeps httpx's own pool (with the limits above);
        # otherwise ours (see _pool and _streams).
        proxies = urllib.request.getproxies()
        if not (trust_env and (scheme in proxies or "all" in proxies)):
            kwargs["transport"] = pooled()
        return kwargs

    def _own(self) -> _Clients:
        """This process's clients: after a fork the child starts its own."""
        clients = self._clients
        if clients.pid != os.getpid():
            self._finalizer.detach()
            self._inherited.append(clients)
            clients = self._clients = _Clients()
            self._finalizer = weakref.finalize(self, clients.close)
        return clients

    def _sync_client(self) -> httpx.Client:
        if self._user_client is not None:
            return self._user_client
        clients = self._own()
        with clients.lock:
            if clients.sync is None:
                clients.sync = httpx.Client(**self._client_kwargs(PooledTransport))
            return clients.sync

    async def _async_client(self) -> httpx.AsyncClient:
        if self._user_async_client is not None:
            return self._user_async_client
        clients = self._own()
        loop = asyncio.get_running_loop()
        entry = clients.by_loop.get(loop)
        if entry is None:
            clients.release_closed_loops()
            client = httpx.AsyncClient(**self._client_kwargs(AsyncStreamTransport))
            closer = _close_at_loop_shutdown(client, clients, loop)
            await closer.__anext__()
            entry = clients.by_loop[loop] = (client, closer)
        return entry[0]

    def prepare(self, body: Mapping[str, Any]) -> Prepared:
        """The encoded body, the headers and the answer's size limit of one attempt."""
        if self._settings.api_key is None:
            raise AuthenticationError(
                "no DashScope API key: pass api_key=... or set DASHSCOPE_API_KEY"
            )
        try:
            content = dumps(body)
        except orjson.JSONEncodeError as exc:
            raise InputError(f"the request cannot be encoded as JSON: {exc}") from None
        return content, self._settings.headers(), response_limit(body)

    async def aprepare(self, body: Mapping[str, Any]) -> Prepared:
        """``prepare`` off the loop, on the encoder thread: for bodies that read
        and base64-encode image files (file I/O and milliseconds of CPU)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._own().encoder(), self.prepare, body)

    def _request(
        self,
        client: httpx.Client | httpx.AsyncClient,
        path: str,
        content: bytes,
        headers: dict[str, str],
    ) -> httpx.Request:
        return client.build_request("POST", self._url(path), content=content, headers=headers)

    # One attempt each: retrying is the runner's job, because whether to try
    # again depends on the whole call (its progress, a stop, the instance's
    # pacing), which one request cannot see.

    def send(self, path: str, prepared: Prepared) -> Answer:
        """POST once; the answer, or a typed error (with ``retry_after`` when the server said)."""
        content, headers, limit = prepared
        client = self._sync_client()
        request = self._request(client, path, content, headers)
        try:
            return _exchange(client, request, self._settings.timeout, limit)
        except httpx.TransportError as exc:
            raise self._failure(exc) from None

    async def asend(self, path: str, prepared: Prepared) -> Answer:
        content, headers, limit = prepared
        client = await self._async_client()
        request = self._request(client, path, content, headers)
        try:
            return await _aexchange(client, request, self._settings.timeout, limit)
        except httpx.TransportError as exc:
            raise self._failure(exc) from None

    def _failure(self, exc: httpx.TransportError) -> DashScopeError:
        if isinstance(exc, httpx.TimeoutException):
            return _timed_out(self._settings.timeout, type(exc).__name__)
        # httpx's text may quote a header or the URL: never let the key or a
        # password in the base URL through.
        text = str(exc)
        secret = self._settings.api_key.get_secret_value() if self._settings.api_key else ""
        if len(secret) >= 8:  # a shorter "key" is a test's, and would mangle words
            text = text.replace(secret, "***")
        text = text.replace(self._settings.base_url, redact_url(self._settings.base_url))
        return APIConnectionError(
            f"connection to DashScope failed: {type(exc).__name__}: {text[:300]}"
        )

    def close(self) -> None:
        """Close the clients this transport made (yours stay open)."""
        self._own().close()

    async def aclose(self) -> None:
        clients = self._own()
        entry = clients.by_loop.get(asyncio.get_running_loop())
        if entry is not None:
            await entry[1].aclose()
        clients.close()


async def _close_at_loop_shutdown(
    client: httpx.AsyncClient, clients: _Clients, loop: asyncio.AbstractEventLoop
) -> AsyncGenerator[None, None]:
    """Started once per client: its loop's ``shutdown_asyncgens()`` (run by
    ``asyncio.run`` at its end) resumes it, closing the client and its sockets."""
    try:
        yield
    finally:
        if clients.by_loop.get(loop, (None,))[0] is client:
            del clients.by_loop[loop]
        await client.aclose()


# A dense float in JSON takes at most ~25 bytes; a sparse entry with its token
# ~100; a text has at most a few thousand tokens. 2 MB per input is several
# times any valid answer, and the slack covers usage, ids and error bodies.
_BYTES_PER_INPUT = 2 * 1024 * 1024
_SLACK_BYTES = 1024 * 1024


def response_limit(body: Mapping[str, Any]) -> int:
    """The largest body a valid answer to ``body`` could have, generously."""
    payload = body.get("input")
    inputs = 1
    if isinstance(payload, Mapping):
        for key in ("texts", "contents"):
            if isinstance(payload.get(key), list):
                inputs = max(1, len(payload[key]))
    return _SLACK_BYTES + inputs * _BYTES_PER_INPUT


def _timed_out(timeout: float, why: str) -> APITimeoutError:
    return APITimeoutError(f"request timed out after {timeout:g} s ({why})")


def _too_large(limit: int) -> ProtocolError:
    return ProtocolError(
        f"the answer exceeds {limit // (1024 * 1024)} MB, more than any valid answer to "
        "this request could be; refused unread"
    )


def _exchange(client: httpx.Client, request: httpx.Request, timeout: float, limit: int) -> Answer:
    """One attempt, bounded by ``timeout`` seconds overall and ``limit`` bytes of body."""
    deadline = time.monotonic() + timeout
    response = client.send(request, stream=True)
    try:
        # httpx bounds each read, not the whole body: give the body the time
        # left (read at its first byte) and check the deadline at every chunk,
        # so a server trickling bytes is cut off too.
        remaining = max(deadline - time.monotonic(), 0.001)
        request.extensions["timeout"] = {**request.extensions.get("timeout", {}), "read": remaining}
        chunks = _collect(response.iter_bytes(), limit, lambda: time.monotonic() > deadline)
        if chunks is None:
            raise _timed_out(timeout, "the answer did not arrive in time")
        return _outcome(response, b"".join(chunks))
    except httpx.DecodingError:
        raise _undecodable() from None
    finally:
        response.close()


async def _aexchange(
    client: httpx.AsyncClient, request: httpx.Request, timeout: float, limit: int
) -> Answer:
    async def attempt() -> Answer:
        response = await client.send(request, stream=True)
        try:
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > limit:
                    raise _too_large(limit)
                chunks.append(chunk)
            return _outcome(response, b"".join(chunks))
        except httpx.DecodingError:
            raise _undecodable() from None
        finally:
            await response.aclose()

    try:
        return await asyncio.wait_for(attempt(), timeout)
    except asyncio.TimeoutError:
        raise _timed_out(timeout, "the answer did not arrive in time") from None


def _collect(chunks: Iterator[bytes], limit: int, late: Any) -> list[bytes] | None:
    """The chunks, or ``None`` if ``late()`` turned true first; refuses more than ``limit``."""
    out: list[bytes] = []
    size = 0
    for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        out.append(chunk)
        if late():
            return None
    return out


def _undecodable() -> ProtocolError:
    return ProtocolError("the answer's body could not be decoded (broken compression)")


def _outcome(response: httpx.Response, content: bytes) -> Answer:
    if response.is_success:
        return Answer(content)
    error = error_from_response(response.status_code, content, response.headers)
    error.retry_after = retry_after(response.headers)
    raise error
