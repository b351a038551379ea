"""Pacing: when an instance may send its next request. No I/O.

The runner asks a ``Pacer`` before every attempt and tells it how the attempt
went. Keeping the state behind this small interface lets one process pace
itself (the local pacer) and lets many workers of a cluster share one account
quota (``dashscope_embeddings.ray`` implements the same three methods on top
of a shared actor). A pacer never sleeps itself: it returns how long to wait,
so the sync path sleeps and the async path awaits without blocking its loop.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Protocol

__all__ = ["LearnedRate", "LocalPacer", "Pacer", "Schedule", "Slowdown"]


class Pacer(Protocol):
    def reserve(self, tokens: int) -> float:
        """Book one request of about ``tokens`` tokens; seconds to wait before sending it.

        ``tokens`` is an estimate never below the service's own count, so a
        tokens-per-minute budget is never overrun. A caller that waits the
        returned time then sends without asking again, unless a 429 came
        meanwhile: that voids the bookings not yet sent, and it books again.
        """
        ...

    def throttled(self, retry_after: float | None) -> None:
        """The service answered 429: slow every sender down (and honour ``retry_after``)."""
        ...

    def succeeded(self) -> None:
        """A request was answered: recover gradually towards the configured rate."""
        ...


class Schedule:
    """A virtual schedule: the GCRA, i.e. a token bucket without burst credit. No I/O.

    A booking takes the next free instant (never before ``earliest``) and
    pushes it on by ``seconds``, the booking's cost at the current rate. So in
    any window of ``W`` seconds at most ``W / cost`` plus one booking go out,
    evenly spread instead of in bursts that a per-second quota would refuse,
    and an idle schedule builds up no credit (a booking never starts in the past).
    """

    def __init__(self) -> None:
        self.free = -math.inf
        """The next free instant."""

    def book(self, earliest: float, seconds: float) -> float:
        """Book ``seconds`` of schedule; returns when the booking starts."""
        start = max(earliest, self.free)
        self.free = start + seconds
        return start

    def unbook(self, now: float, end: float, seconds: float) -> bool:
        """Give back the last ``seconds`` of the booking ending at ``end`` if it is the latest.

        False when a later booking follows it: the caller keeps the hole.
        """
        if end != self.free:
            return False
        self.free = max(now, end - seconds)
        return True


CUT = 0.5
"""A 429 halves the rate at once (TCP's multiplicative decrease)..."""
FLOOR = 1 / 64
"""...but never below this share of it."""


class Slowdown:
    """How far 429s have slowed a sender: a factor on its rate, and a pause. No I/O.

    A 429 cuts the factor by ``CUT``, at most once per ``cut_interval`` seconds
    so that the burst of 429s answering requests sent before the cut does not
    collapse the rate; each answered request wins back ``recovery`` (additive
    increase). A ``Retry-After`` pauses every booking until it has passed.
    Not thread-safe: its owner serialises calls.
    """

    def __init__(self, cut_interval: float, recovery: float) -> None:
        self._cut_interval = cut_interval
        self._recovery = recovery
        self._last_cut = -math.inf
        self.factor = 1.0
        self.paused_until = -math.inf

    def earliest(self, now: float) -> float:
        """The first instant a request may be booked for."""
        return max(now, self.paused_until)

    def spacing(self, per_minute: float) -> float:
        """Seconds between two sends at ``per_minute``, slowed by the factor."""
        return 60.0 / (per_minute * self.factor)

    def throttled(self, now: float, retry_after: float | None) -> bool:
        """A 429 answered; True when it cut the rate (it did not follow another too soon)."""
        if retry_after:
            self.paused_until = max(self.paused_until, now + retry_after)
        if now - self._last_cut < self._cut_interval:
            return False
        self._last_cut = now
        self.factor = max(FLOOR, self.factor * CUT)
        return True

    def succeeded(self, answers: int = 1, ceiling: float = 1.0) -> None:
        """``answers`` requests answered: win back some rate, up to ``ceiling``."""
        self.factor = min(ceiling, self.factor + self._recovery * answers)


MARGIN = 0.95
"""A learned rate is this share of what the service let through."""
HOLD = 30.0
"""...and holds there this many seconds after a 429 (TCP CUBIC's plateau near
the last loss: each probe past the quota costs everyone a pause)...
"""
GROWTH = 0.01
"""...then grows by this share of itself per second until the next 429, so a
raised quota is found again (per unit of time, not per answer: a faster client
must not probe faster)."""
EPISODE = 0.25
"""Seconds after a 429 (or its ``Retry-After`` pause) during which further 429s
answer the same overshoot: they refine the estimate but do not cut again."""


class LearnedRate:
    """The rate a service lets through, learned from its 429s when no quota is configured.

    Halving on every 429 (AIMD on a concurrency cap) oscillates: against a
    per-second quota each overshoot costs a whole-second ``Retry-After`` pause
    for everyone and the halved cap then undershoots for many round trips.
    Instead, like gRPC's and Netflix's limiters that measure what got through,
    a 429 sets the rate to what the service just accepted: the requests sent in
    the ``W`` seconds before it (``W`` = the ``Retry-After``, at least 1 s: the
    quota's window as far as the service tells) minus the 429s answering them,
    times ``MARGIN``; later 429s of the same overshoot (until its pause has
    passed) refine that count instead of cutting again, and the estimate
    applies once they are in. A window in which nothing got through tells no
    rate, and one overshoot never more than halves the rate (TCP's decrease):
    a window the pacing left half empty measures the pacing, not the service.
    The rate then holds for ``HOLD`` seconds (its 5% margin absorbs sends a
    few tens of milliseconds late against a 1 s window) before it grows by
    ``GROWTH`` of itself per second, so a raised quota is found again.
    Sends are counted when booked, so answers arriving in any order (the 429s
    and successes of one burst arrive together) give the same estimate.
    Not thread-safe: its owner serialises calls. No I/O.
    """

    def __init__(self) -> None:
        self.per_second: float | None = None
        """Requests per second; ``None`` until the first 429."""
        self._sends: deque[float] = deque()
        self._episode_end = -math.inf
        self._settled = -math.inf
        """When the estimate applies: the pause is over and no 429 came for a
        while. The hold, then the growth, count from here."""
        self._window = 1.0
        self._cut_at = -math.inf
        self._throttled = 0
        self._before: float | None = None
        """The rate before this episode's cut (an episode never raises it)."""

    def rate(self, now: float) -> float | None:
        if now < self._settled:
            # The overshoot's 429s are still coming in, each refining the
            # estimate; a booking made on a passing value would keep it (the
            # transient burst passes through "one request a second" on its way
            # to "nothing got through"). Pacing stays as it was; the pause and
            # the halved concurrency cap hold the traffic back meanwhile.
            return self._before
        if self.per_second is None:
            return None
        return self.per_second * (1 + GROWTH * max(0.0, now - self._settled - HOLD))

    def sent(self, at: float) -> None:
        self._sends.append(at)
        while self._sends and self._sends[0] < at - 60.0:
            self._sends.popleft()

    def void_after(self, now: float) -> None:
        """Forget the sends booked after ``now``: they will be booked again."""
        while self._sends and self._sends[-1] > now:
            self._sends.pop()

    def throttled(self, now: float, paused_until: float, retry_after: float | None) -> None:
        if now >= self._episode_end:  # a new overshoot: cut once
            self._before = self.rate(now)
            self._cut_at = now
            self._window = max(1.0, retry_after or 0.0)
            self._throttled = 0
        self._throttled += 1
        self._episode_end = max(paused_until, now) + EPISODE
        self._settled = max(paused_until, now + EPISODE)
        start = self._cut_at - self._window
        accepted = sum(1 for t in self._sends if start < t <= self._cut_at) - self._throttled
        measured = MARGIN * accepted / self._window if accepted > 0 else None
        if self._before is None:
            # Nothing got through (``None``): a transient refusal, or a quota
            # someone else used up. A rate learned from that would be a guess
            # the job then crawls at; pacing stays off, and the pause and the
            # halved concurrency cap hold the traffic back.
            self.per_second = measured
        else:
            # At most halved per overshoot: a window the pacing itself left
            # half empty measures the pacing, not the service.
            self.per_second = max(CUT * self._before, min(measured or 0.0, MARGIN * self._before))


class LocalPacer:
    """Paces one process's traffic to ``requests_per_minute`` / ``tokens_per_minute``.

    Each budget is a ``Schedule``; a request books both. On a 429 every
    budget slows down together (``Slowdown``: a cut at most once a second,
    then 2% of the configured rate back per answered request); without
    configured budgets the first 429 starts pacing to a ``LearnedRate``.
    Every 429's ``Retry-After`` pauses every booking, and voids the bookings
    ahead (their requests book again). Thread-safe; no I/O.
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
        self._slowdown = Slowdown(cut_interval=1.0, recovery=0.02)
        self._learned = LearnedRate()
        self._requests = Schedule()
        self._tokens = Schedule()

    def reserve(self, tokens: int) -> float:
        with self._lock:
            now = self._clock()
            start = self._slowdown.earliest(now)
            if self._rpm:
                start = self._requests.book(start, self._slowdown.spacing(self._rpm))
            elif (learned := self._learned.rate(start)) is not None:
                start = self._requests.book(start, 1.0 / learned)
            if self._tpm:
                start = self._tokens.book(start, tokens * self._slowdown.spacing(self._tpm))
            self._learned.sent(start)
            return start - now

    def throttled(self, retry_after: float | None) -> None:
        with self._lock:
            now = self._clock()
            self._slowdown.throttled(now, retry_after)
            # The bookings ahead were made at the old rate and may fall in the
            # pause: they are void, and their requests book again (the runner).
            self._requests, self._tokens = Schedule(), Schedule()
            self._learned.void_after(now)
            if not self._rpm:
                self._learned.throttled(now, self._slowdown.paused_until, retry_after)

    def succeeded(self) -> None:
        with self._lock:
            self._slowdown.succeeded()
