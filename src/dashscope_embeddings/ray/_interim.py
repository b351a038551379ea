"""INTERIM: plugs a ``Pacer`` into the core client through its ``http_client``.

Until ``DashScopeClient`` takes ``pacer=`` (the production-load work moves
retries into the runner and asks the pacer before every attempt), the only
place that sees every attempt, retries included, is the HTTP transport. This
wraps it. Two approximations, both gone with ``pacer=``: the token estimate is
the body's size in bytes (never below the service's count for text, far above
it for inline images), and a 429's ``Retry-After`` is waited twice (by the
pacer and by the client's own retry).
"""

from __future__ import annotations

import time

import httpx

from .._pacing import Pacer
from .._retry import _retry_after

__all__ = ["paced_http_client"]


class _PacedTransport(httpx.BaseTransport):
    def __init__(self, pacer: Pacer, inner: httpx.BaseTransport) -> None:
        self._pacer = pacer
        self._inner = inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        wait = self._pacer.reserve(len(request.content))
        if wait > 0:
            time.sleep(wait)
        response = self._inner.handle_request(request)
        if response.status_code == 429:
            self._pacer.throttled(_retry_after(response.headers, time.time))
        elif response.is_success:
            self._pacer.succeeded()
        return response

    def close(self) -> None:
        self._inner.close()


def paced_http_client(pacer: Pacer, timeout: float) -> httpx.Client:
    """An ``httpx.Client`` like the one the core client makes for itself, paced."""
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=32)
    return httpx.Client(
        transport=_PacedTransport(pacer, httpx.HTTPTransport(limits=limits)),
        timeout=httpx.Timeout(timeout),
        follow_redirects=False,
    )
