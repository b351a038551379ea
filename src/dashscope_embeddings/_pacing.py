"""Pacing: when an instance may send its next request. No I/O.

The runner asks a ``Pacer`` before every attempt and tells it how the attempt
went. Keeping the state behind this small interface lets one process pace
itself (the local pacer) and lets many workers of a cluster share one account
quota (``dashscope_embeddings.ray`` implements the same three methods on top
of a shared actor). A pacer never sleeps itself: it returns how long to wait,
so the sync path sleeps and the async path awaits without blocking its loop.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol

__all__ = ["LocalPacer", "Pacer"]


class Pacer(Protocol):
    def reserve(self, tokens: int) -> float:
        """Book one request of about ``tokens`` tokens; seconds to wait before sending it.

        ``tokens`` is an estimate never below the service's own count, so a
        tokens-per-minute budget is never overrun. The booking is final: a
        caller that waits the returned time then sends without asking again.
        """
        ...

    def throttled(self, retry_after: float | None) -> None:
        """The service answered 429: slow every sender down (and honour ``retry_after``)."""
        ...

    def succeeded(self) -> None:
        """A request was answered: recover gradually towards the configured rate."""
        ...


# How a 429 changes the local pacer's rate: cut to half at once (TCP's
# multiplicative decrease), at most once per ``_CUT_COOLDOWN`` seconds so that
# the burst of 429s answering requests sent before the cut does not collapse
# the rate; then win back ``_RECOVERY`` of the configured rate per answered
# request (additive increase).
_CUT = 0.5
_FLOOR = 1 / 64
_RECOVERY = 0.02
_CUT_COOLDOWN = 1.0


class LocalPacer:
    """Paces one process's traffic to ``requests_per_minute`` / ``tokens_per_minute``.

    Each budget is a virtual schedule (GCRA, the token bucket without a
    burst): a booking takes the next free instant and pushes it on by
    ``cost / rate``, so in any window of ``W`` seconds at most ``rate × W``
    plus one request's cost go out, evenly spread instead of in bursts that a
    per-second quota would refuse. On a 429 every budget is scaled down
    (see ``_CUT``) and a ``Retry-After`` pauses every booking until it has
    passed; without configured budgets only the pause applies (the runner's
    concurrency limiter does the slowing down then). Thread-safe; no I/O.
    """

    def __init__(
        self,
        requests_per_minute: float | None = None,
        tokens_per_minute: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._rpm = requests_per_minute
        self._tpm = tokens_per_minute
        self._clock = clock
        self._lock = threading.Lock()
        self._scale = 1.0
        self._next_request = 0.0
        self._next_token = 0.0
        self._paused_until = 0.0
        self._last_cut = -_CUT_COOLDOWN

    def reserve(self, tokens: int) -> float:
        with self._lock:
            now = self._clock()
            start = max(now, self._paused_until)
            if self._rpm:
                start = max(start, self._next_request)
                self._next_request = start + 60.0 / (self._rpm * self._scale)
            if self._tpm:
                start = max(start, self._next_token)
                self._next_token = start + 60.0 * tokens / (self._tpm * self._scale)
            return start - now

    def throttled(self, retry_after: float | None) -> None:
        with self._lock:
            now = self._clock()
            if retry_after:
                self._paused_until = max(self._paused_until, now + retry_after)
            if now - self._last_cut >= _CUT_COOLDOWN:
                self._last_cut = now
                self._scale = max(_FLOOR, self._scale * _CUT)

    def succeeded(self) -> None:
        with self._lock:
            self._scale = min(1.0, self._scale + _RECOVERY)
