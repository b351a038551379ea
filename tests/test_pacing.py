"""The local pacer on a fake clock: what a 429 teaches it, and what it must not learn. No I/O."""

from __future__ import annotations

import itertools

import pytest

from dashscope_embeddings._pacing import LocalPacer


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _starts(pacer: LocalPacer, clock: Clock, n: int) -> list[float]:
    """When ``n`` requests booked now may go out."""
    return [clock.now + pacer.reserve(10) for _ in range(n)]


def _quota_overshoot(pacer: LocalPacer, clock: Clock) -> None:
    """16 sent at once against 10 requests/s: 6 refused with a 1 s Retry-After."""
    _starts(pacer, clock, 16)
    clock.now = 0.05
    for _ in range(6):
        pacer.throttled(1.0)


def test_a_quota_is_learned_from_what_got_through() -> None:
    clock = Clock()
    pacer = LocalPacer(clock=clock)
    _quota_overshoot(pacer, clock)
    starts = _starts(pacer, clock, 10)
    assert starts[0] == pytest.approx(1.05)  # after the pause
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert gaps == pytest.approx([1 / 9.5] * 9)  # 95% of the 10 that got through


def test_a_burst_in_which_nothing_got_through_sets_no_pace() -> None:
    clock = Clock()
    pacer = LocalPacer(clock=clock)
    _starts(pacer, clock, 8)
    clock.now = 0.02
    for _ in range(8):  # every request of the window refused: a transient burst
        pacer.throttled(0.0)
    clock.now = 0.5
    assert _starts(pacer, clock, 20) == [0.5] * 20


def test_the_learned_rate_holds_then_probes() -> None:
    clock = Clock()
    pacer = LocalPacer(clock=clock)
    _quota_overshoot(pacer, clock)

    def rate_at(t: float) -> float:
        clock.now = t
        first, second = _starts(pacer, clock, 2)
        return 1 / (second - first)

    assert rate_at(3.0) == pytest.approx(9.5)
    assert rate_at(30.0) == pytest.approx(9.5)  # held, not probing past the quota
    assert rate_at(41.05) == pytest.approx(9.5 * 1.1)  # 30 s on: probing, 1% a second


def test_one_overshoot_never_more_than_halves_the_rate() -> None:
    clock = Clock()
    pacer = LocalPacer(clock=clock)
    _quota_overshoot(pacer, clock)
    clock.now = 5.0
    _starts(pacer, clock, 2)  # a window the job left nearly empty...
    clock.now = 5.5
    pacer.throttled(1.0)  # ...then one 429: it measures the pacing, not the service
    clock.now = 7.0
    first, second = _starts(pacer, clock, 2)
    assert 1 / (second - first) >= 9.5 / 2


def test_a_429_voids_the_bookings_ahead() -> None:
    clock = Clock()
    pacer = LocalPacer(requests_per_minute=600, clock=clock)
    assert _starts(pacer, clock, 20) == pytest.approx([i / 10 for i in range(20)])
    clock.now = 0.15
    pacer.throttled(1.0)
    # Booked again, the waiting requests start at the pause's end at the halved
    # rate, not behind the 2 s of void bookings made at the old rate.
    assert _starts(pacer, clock, 3) == pytest.approx([1.15, 1.35, 1.55])
