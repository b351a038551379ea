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

A 429 anywhere slows everyone (multiplicative decrease, once per
``CUT_INTERVAL``: the 429s of one overshoot arrive together and must not cut
the rate to nothing) and stops new slices until its ``Retry-After`` has
passed; every success earns the rate back a little (additive increase).
Without a configured quota the budget only learns one from the first 429:
half the rate the cluster was sending at.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

__all__ = ["Budget", "Lease"]

LEASE_SECONDS = 0.5
"""Longest slice: short, so a slow-down reaches every worker within it."""
SLICE_REQUESTS = 4
"""Requests per slice: few, so a worker whose batch ends mid-slice wastes little."""
CUT_INTERVAL = 2.0
DECREASE = 0.5
INCREASE = 0.01
"""Factor regained per success: from a halving back to full in 50 answers."""
MIN_FACTOR = 0.02
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
        self._factor = 1.0
        self._learned_rps: float | None = None
        """Requests per second learned from the first 429 (no configured quota)."""
        self._cursor = -math.inf
        """Where the next slice starts (budget clock)."""
        self._paused_until = -math.inf
        self._last_cut = -math.inf
        self._sent: deque[tuple[float, int]] = deque()
        self._holes: list[tuple[float, float]] = []
        """Unspent tails given back before the cursor: handed out again first."""

    def configure(self, requests_per_minute: float | None, tokens_per_minute: float | None) -> None:
        """The latest stage to start sets the quota (they share one account)."""
        self._rpm, self._tpm = requests_per_minute, tokens_per_minute

    def _costs(self) -> tuple[float, float]:
        if self._rpm is not None:
            request = 60.0 / self._rpm
        elif self._learned_rps is not None:
            request = 1.0 / self._learned_rps
        else:
            request = 0.0
        token = 60.0 / self._tpm if self._tpm is not None else 0.0
        return request / self._factor, token / self._factor

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
        earliest = max(self._paused_until, now)
        start, end = self._from_hole(earliest, one, duration)
        if start is None:
            start = max(self._cursor, earliest)
            end = self._cursor = start + duration
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
        if unused <= 0:
            return
        if ticket == self._cursor:
            self._cursor = max(now, self._cursor - unused)
        else:
            self._holes.append((ticket - unused, ticket))

    def throttled(self, now: float, retry_after: float | None) -> None:
        if retry_after:
            self._paused_until = max(self._paused_until, now + retry_after)
        if now - self._last_cut < CUT_INTERVAL:
            return
        self._last_cut = now
        if self._rpm is None and self._learned_rps is None:
            self._learned_rps = max(self._measured_rps(now), 1.0 / 60)
        self._factor = max(MIN_FACTOR, self._factor * DECREASE)

    def _record(self, now: float, sent: int, succeeded: int) -> None:
        if sent:
            self._sent.append((now, sent))
        while self._sent and self._sent[0][0] < now - RATE_WINDOW:
            self._sent.popleft()
        if succeeded:
            # A configured quota caps the recovery; a learned one keeps probing upwards.
            ceiling = 1.0 if self._rpm is not None or self._tpm is not None else math.inf
            self._factor = min(ceiling, self._factor + INCREASE * succeeded)

    def _measured_rps(self, now: float) -> float:
        if not self._sent:
            return 0.0
        span = max(1.0, now - self._sent[0][0])
        return sum(count for _, count in self._sent) / span
