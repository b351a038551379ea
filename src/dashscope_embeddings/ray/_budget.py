"""One account's quota as a schedule of time, handed out in leases. No I/O, no Ray.

The cluster actor holds one ``Budget``. The quota is a rate: each request
costs ``60 / requests_per_minute`` seconds of schedule and each token
``60 / tokens_per_minute``; a request costs the larger of its two. The budget
hands out consecutive, non-overlapping slices of that schedule (leases), each
worth about ``SLICE_REQUESTS`` requests and at most ``LEASE_SECONDS``; a
worker spends its slice on its own requests without asking again, and gives
back what it did not spend when its batch is done (handed out again first).
Because slices never overlap and no slice starts before "now", any window
of the cluster's traffic holds at most the quota's share of it (plus one
request per slice boundary): no burst credit builds up while it is idle.

The slices come off one ``Schedule`` and a 429 anywhere slows everyone
through one ``Slowdown``, the same arithmetic as a single process's
``LocalPacer``, with the cluster's own constants below. Without a configured
quota the budget only learns one from the first 429: half the rate the
cluster was sending at.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

from .._pacing import Schedule, Slowdown

__all__ = ["Budget", "Lease"]

LEASE_SECONDS = 0.5
"""Longest slice: short, so a slow-down reaches every worker within it."""
SLICE_REQUESTS = 4
"""Requests per slice: few, so a worker whose batch ends mid-slice wastes little."""
CUT_INTERVAL = 2.0
"""Twice a single process's: the 429s of one overshoot keep arriving while
slices already handed out (``LEASE_SECONDS``) are spent, and must not cut the
rate to nothing."""
RECOVERY = 0.01
"""Factor regained per success: from a halving back to full in 50 answers
(half a single process's pace: without a configured quota this is how fast
the whole cluster probes upwards, and an overshoot costs every worker)."""
RATE_WINDOW = 10.0
"""Seconds over which the sending rate is measured (for the learned quota)."""


@dataclass(frozen=True)
class Lease:
    """A slice of schedule: ``start`` seconds from when it was granted, ``duration`` long.

    ``request_cost`` / ``token_cost``: schedule seconds per request / per token
    (0 when that dimension is unlimited). With both 0 the lease is a licence to
    send freely for ``duration`` seconds.
    """

    start: float
    duration: float
    request_cost: float
    token_cost: float
    ticket: float
    """Names the slice when its unspent tail is given back."""


class Budget:
    def __init__(self, requests_per_minute: float | None, tokens_per_minute: float | None) -> None:
        self._rpm = requests_per_minute
        self._tpm = tokens_per_minute
        self._slowdown = Slowdown(CUT_INTERVAL, RECOVERY)
        self._learned_rpm: float | None = None
        """Requests per minute learned from the first 429 (no configured quota)."""
        self._schedule = Schedule()
        """The slices handed out (budget clock)."""
        self._sent: deque[tuple[float, int]] = deque()
        self._holes: list[tuple[float, float]] = []
        """Unspent tails given back before the latest slice: handed out again first."""

    def configure(self, requests_per_minute: float | None, tokens_per_minute: float | None) -> None:
        """The latest stage to start sets the quota (they share one account)."""
        self._rpm, self._tpm = requests_per_minute, tokens_per_minute

    def _costs(self) -> tuple[float, float]:
        requests = self._rpm or self._learned_rpm
        request = self._slowdown.spacing(requests) if requests else 0.0
        token = self._slowdown.spacing(self._tpm) if self._tpm else 0.0
        return request, token

    def lease(self, now: float, tokens: int, sent: int, succeeded: int) -> Lease:
        """The next slice, long enough for at least one request of ``tokens`` tokens.

        ``sent`` / ``succeeded``: what the caller did since its last call,
        reported here so that counting costs no round trip of its own.
        """
        self._record(now, sent, succeeded)
        request_cost, token_cost = self._costs()
        one = max(request_cost, tokens * token_cost)
        if not one:
            return Lease(0.0, LEASE_SECONDS, 0.0, 0.0, ticket=now + LEASE_SECONDS)
        duration = max(one, min(LEASE_SECONDS, SLICE_REQUESTS * one))
        earliest = self._slowdown.earliest(now)
        start, end = self._from_hole(earliest, one, duration)
        if start is None:
            start = self._schedule.book(earliest, duration)
            end = start + duration
        return Lease(start - now, end - start, request_cost, token_cost, ticket=end)

    def _from_hole(
        self, earliest: float, one: float, duration: float
    ) -> tuple[float | None, float]:
        """Up to ``duration`` of the earliest given-back hole that still fits one request."""
        self._holes = [(max(a, earliest), b) for a, b in self._holes if b - max(a, earliest) >= one]
        if not self._holes:
            return None, 0.0
        self._holes.sort()
        start, end = self._holes.pop(0)
        if end - start > duration:
            self._holes.append((start + duration, end))
            end = start + duration
        return start, end

    def give_back(
        self, now: float, ticket: float, unused: float, sent: int, succeeded: int
    ) -> None:
        """Take back the unspent tail ``unused`` of the slice ending at ``ticket``."""
        self._record(now, sent, succeeded)
        if unused > 0 and not self._schedule.unbook(now, ticket, unused):
            self._holes.append((ticket - unused, ticket))

    def throttled(self, now: float, retry_after: float | None) -> None:
        cut = self._slowdown.throttled(now, retry_after)
        if cut and self._rpm is None and self._learned_rpm is None:
            # What the cluster was sending at, which the cut then halves.
            self._learned_rpm = max(60.0 * self._measured_rps(now), 1.0)

    def _record(self, now: float, sent: int, succeeded: int) -> None:
        if sent:
            self._sent.append((now, sent))
        while self._sent and self._sent[0][0] < now - RATE_WINDOW:
            self._sent.popleft()
        if succeeded:
            # A configured quota caps the recovery; a learned one keeps probing upwards.
            ceiling = 1.0 if self._rpm is not None or self._tpm is not None else math.inf
            self._slowdown.succeeded(succeeded, ceiling)

    def _measured_rps(self, now: float) -> float:
        if not self._sent:
            return 0.0
        span = max(1.0, now - self._sent[0][0])
        return sum(count for _, count in self._sent) / span
