"""Pacing: when an instance may send its next request. No I/O.

The runner asks a ``Pacer`` before every attempt and tells it how the attempt
went. Keeping the state behind this small interface lets one process pace
itself (the local pacer) and lets many workers of a cluster share one account
quota (``dashscope_embeddings.ray`` implements the same three methods on top
of a shared actor). A pacer never sleeps itself: it returns how long to wait,
so the sync path sleeps and the async path awaits without blocking its loop.
"""

from __future__ import annotations

from typing import Protocol

__all__ = ["Pacer"]


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
