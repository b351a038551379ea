"""The HTTP shells: one POST attempt, sync and async, over httpx.

Each instance owns its clients; nothing is shared between instances, so two
configurations (keys, regions, workspaces) never interfere. The async client
is kept per event loop, because httpx connection pools cannot cross loops
(``asyncio.run`` called twice, or a test framework's loop per test).
"""

from __future__ import annotations

import asyncio
import ipaddress
import platform
import threading
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson
from pydantic import SecretStr

from ._errors import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    DashScopeError,
    InputError,
)
from ._responses import error_from_response
from ._retry import retry_after
from ._version import __version__

__all__ = ["Transport", "TransportSettings", "is_loopback_host", "is_loopback_url"]

USER_AGENT = (
    f"dashscope-embeddings/{__version__} python/{platform.python_version()} "
    f"httpx/{httpx.__version__}"
)


def is_loopback_url(url: str) -> bool:
    return is_loopback_host(urlsplit(url).hostname or "")


def is_loopback_host(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_base_url(base_url: str, has_key: bool) -> None:
    """Refuse a base URL that would leak the key or cannot work."""
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InputError(f"base_url must be an http(s) URL, got {base_url!r}")
    if parts.scheme == "http" and has_key and not is_loopback_url(base_url):
        raise InputError(
            f"refusing to send the API key over plain http to {parts.hostname}; "
            "use https (plain http is allowed only to loopback, e.g. the emulator)"
        )


@dataclass(frozen=True)
class TransportSettings:
    base_url: str
    api_key: SecretStr | None
    workspace: str | None
    timeout: float
    max_retries: int

    def headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
        if self.api_key is not None:
            headers["Authorization"] = f"Bearer {self.api_key.get_secret_value()}"
        if self.workspace:
            headers["X-DashScope-WorkSpace"] = self.workspace
        return headers


Prepared = tuple[bytes, dict[str, str]]


@dataclass(frozen=True, slots=True)
class Answer:
    content: bytes
    request_id: str | None


class Transport:
    """POSTs JSON to one DashScope base URL, one attempt per call; raises typed errors."""

    def __init__(
        self,
        settings: TransportSettings,
        *,
        http_client: httpx.Client | None = None,
        http_async_client: httpx.AsyncClient | None = None,
    ) -> None:
        check_base_url(settings.base_url, settings.api_key is not None)
        self._settings = settings
        self._user_client = http_client
        self._user_async_client = http_async_client
        self._client: httpx.Client | None = None
        self._async_clients: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, httpx.AsyncClient
        ] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    # Sockets, locks and loops do not cross processes: a copy starts fresh.
    def __getstate__(self) -> dict[str, Any]:
        return {"settings": self._settings}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["settings"])  # type: ignore[misc]

    def _url(self, path: str) -> str:
        return self._settings.base_url.rstrip("/") + path

    def _client_kwargs(self) -> dict[str, Any]:
        return {
            "timeout": httpx.Timeout(self._settings.timeout),
            "limits": httpx.Limits(max_connections=None, max_keepalive_connections=32),
            "follow_redirects": False,
        }

    def _sync_client(self) -> httpx.Client:
        if self._user_client is not None:
            return self._user_client
        with self._lock:
            if self._client is None:
                self._client = httpx.Client(**self._client_kwargs())
            return self._client

    def _async_client(self) -> httpx.AsyncClient:
        if self._user_async_client is not None:
            return self._user_async_client
        loop = asyncio.get_running_loop()
        client = self._async_clients.get(loop)
        if client is None:
            client = httpx.AsyncClient(**self._client_kwargs())
            self._async_clients[loop] = client
        return client

    def prepare(self, body: Mapping[str, Any]) -> Prepared:
        """The encoded body and headers, made once per request and reused by every attempt."""
        if self._settings.api_key is None:
            raise AuthenticationError(
                "no DashScope API key: pass api_key=... or set DASHSCOPE_API_KEY"
            )
        return orjson.dumps(body), self._settings.headers()

    # One attempt each: retrying is the runner's job, because whether to try
    # again depends on the whole call (its progress, a stop, the instance's
    # pacing), which one request cannot see.

    def send(self, path: str, prepared: Prepared) -> Answer:
        """POST once; the answer, or a typed error (with ``retry_after`` when the server said)."""
        content, headers = prepared
        try:
            response = self._sync_client().post(self._url(path), content=content, headers=headers)
        except httpx.TransportError as exc:
            raise _failure(exc, self._settings.timeout) from None
        return _outcome(response)

    async def asend(self, path: str, prepared: Prepared) -> Answer:
        content, headers = prepared
        client = self._async_client()
        try:
            response = await client.post(self._url(path), content=content, headers=headers)
        except httpx.TransportError as exc:
            raise _failure(exc, self._settings.timeout) from None
        return _outcome(response)

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    async def aclose(self) -> None:
        loop = asyncio.get_running_loop()
        client = self._async_clients.pop(loop, None)
        if client is not None:
            await client.aclose()


def _outcome(response: httpx.Response) -> Answer:
    if response.is_success:
        return Answer(response.content, response.headers.get("x-request-id"))
    error = error_from_response(response.status_code, response.content, response.headers)
    error.retry_after = retry_after(response.headers)
    raise error


def _failure(exc: httpx.TransportError, timeout: float) -> DashScopeError:
    if isinstance(exc, httpx.TimeoutException):
        return APITimeoutError(f"request timed out after {timeout:g} s ({type(exc).__name__})")
    return APIConnectionError(f"connection to DashScope failed: {type(exc).__name__}: {exc}")
