"""One adaptive cap on the requests in flight of a client instance.

``max_concurrency`` is a ceiling shared by every thread, every event loop and
sync and async calls alike, so the state is a plain counter under a
``threading.Lock`` (held for a few instructions, never across I/O, so taking
it from a coroutine does not stall its loop). Sync callers wait on an Event
with a short timeout so that a stopped call is noticed; async callers await
a future of their own loop, resolved through ``loop.call_soon_threadsafe`` by
whichever thread frees the slot. A freed slot is handed to the oldest waiter
directly (FIFO, no thundering herd); a waiter that gives up after being
handed one passes it on.

The cap adapts like TCP congestion control and Netflix's AIMD limiter: a 429
halves it (at most once per round trip: only a 429 to a request sent after
the last cut counts, the others answer the old rate), each answered request
adds ``1 / limit`` (about one more slot per round trip), never above the
ceiling. A ``Retry-After`` is the pacer's to honour (``_pacing``): it holds
every booking of the instance until it has passed.

Pickled copies do not share a limiter: sharing would need process-wide
mutable state, which the code base avoids; each copy has its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field

__all__ = ["ConcurrencyLimiter", "Stopped"]

_POLL = 0.05
"""Seconds between checks of the stop event while a sync caller waits."""


class Stopped(Exception):
    """The call stopped (an error elsewhere, a cancellation) while waiting to send."""


@dataclass(eq=False)
class _Waiter:
    loop: asyncio.AbstractEventLoop | None = None
    future: asyncio.Future[None] | None = None
    event: threading.Event = field(default_factory=threading.Event)
    granted: bool = False
    abandoned: bool = False

    def wake(self) -> bool:
        """Tell the waiter it holds a slot; ``False`` if it can no longer be told."""
        if self.loop is None:
            self.event.set()
            return True
        try:
            self.loop.call_soon_threadsafe(_resolve, self.future)
        except RuntimeError:  # its loop is closed
            return False
        return True


def _resolve(future: asyncio.Future[None] | None) -> None:
    if future is not None and not future.done():
        future.set_result(None)


class ConcurrencyLimiter:
    def __init__(self, ceiling: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.ceiling = ceiling
        self._clock = clock
        self._lock = threading.Lock()
        self._limit = float(ceiling)
        self._in_flight = 0
        self._waiters: deque[_Waiter] = deque()
        self._last_cut = float("-inf")

    @property
    def limit(self) -> int:
        """Requests allowed in flight right now (between 1 and the ceiling)."""
        return max(1, int(self._limit))

    @property
    def in_flight(self) -> int:
        return self._in_flight

    # -- taking and giving back a slot ------------------------------------------

    def acquire(self, stopped: Callable[[], bool]) -> None:
        """Take a slot, waiting as long as needed; ``Stopped`` once ``stopped()`` says so."""
        with self._lock:
            if not self._waiters and self._in_flight < self.limit:
                self._in_flight += 1
                return
            waiter = _Waiter()
            self._waiters.append(waiter)
        while not waiter.event.wait(_POLL):
            if stopped():
                self._abandon(waiter)
                raise Stopped

    async def aacquire(self) -> None:
        """Take a slot without blocking the loop; cancelling the caller gives it up."""
        loop = asyncio.get_running_loop()
        with self._lock:
            if not self._waiters and self._in_flight < self.limit:
                self._in_flight += 1
                return
            waiter = _Waiter(loop=loop, future=loop.create_future())
            self._waiters.append(waiter)
        try:
            assert waiter.future is not None
            await waiter.future
        except BaseException:
            self._abandon(waiter)
            raise

    @contextlib.contextmanager
    def slot(self, stopped: Callable[[], bool]) -> Iterator[None]:
        """A slot held for the ``with`` block: ``acquire`` to ``release``."""
        self.acquire(stopped)
        try:
            yield
        finally:
            self.release()

    @contextlib.asynccontextmanager
    async def aslot(self) -> AsyncIterator[None]:
        await self.aacquire()
        try:
            yield
        finally:
            self.release()

    def release(self) -> None:
        with self._lock:
            self._in_flight -= 1
            self._hand_over()

    def _abandon(self, waiter: _Waiter) -> None:
        with self._lock:
            if waiter.granted:
                self._in_flight -= 1
                self._hand_over()
            else:
                waiter.abandoned = True

    def _hand_over(self) -> None:
        """Give free slots to the oldest waiters (called with the lock held)."""
        while self._waiters and self._in_flight < self.limit:
            waiter = self._waiters.popleft()
            if waiter.abandoned:
                continue
            waiter.granted = True
            self._in_flight += 1
            if not waiter.wake():
                waiter.granted = False
                self._in_flight -= 1

    # -- adapting ------------------------------------------------------------------

    def throttled(self, sent_at: float) -> None:
        """A request sent at ``sent_at`` (this clock) was answered 429."""
        with self._lock:
            if sent_at >= self._last_cut:
                self._last_cut = self._clock()
                self._limit = max(1.0, self._limit / 2)

    def succeeded(self) -> None:
        with self._lock:
            if self._limit < self.ceiling:
                self._limit = min(float(self.ceiling), self._limit + 1 / self._limit)
                self._hand_over()
