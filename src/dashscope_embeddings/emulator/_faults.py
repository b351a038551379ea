"""Fault injection: what happens to a request before the service sees it.

Random faults come from the config (seeded, so runs repeat); scripted faults
come from ``Emulator.inject`` and win over random ones, one per request, in
the order they were injected. The plan is shared by every connection of one
emulator and by the threads that inject faults, hence the lock.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from ._config import EmulatorConfig
from ._replies import Reply, error_reply

__all__ = ["Decision", "Fault", "FaultPlan"]


@dataclass(frozen=True)
class Fault:
    """One scripted fault. ``delay`` may combine with ``status`` or ``reset``.

    A 2xx ``status`` is no fault at all: that request is handled normally.
    It lets a script say "the first request succeeds, the second fails".
    """

    status: int | None = None
    reset: bool = False
    delay: float = 0.0
    retry_after: int | None = None
    code: str | None = None
    message: str | None = None

    def __post_init__(self) -> None:
        if self.status is not None and self.reset:
            raise ValueError("a fault either answers a status or resets the connection, not both")
        if self.status is None and not self.reset and self.delay <= 0:
            raise ValueError("inject() needs status=..., reset=True or delay=... (> 0)")
        if self.status is not None and not 100 <= self.status <= 599:
            raise ValueError(f"status must be an HTTP status code, got {self.status!r}")
        if self.delay < 0:
            raise ValueError("delay must be >= 0")
        if self.retry_after is not None and self.retry_after < 0:
            raise ValueError("retry_after must be >= 0")


@dataclass(frozen=True)
class Decision:
    delay: float
    """Seconds to wait before acting (latency, jitter, slow or scripted delay)."""
    reply: Reply | None = None
    """Answer this instead of handling the request."""
    reset: bool = False
    """Close the connection abruptly instead of answering."""
    fault: str | None = None
    """Which fault decided, for the request record."""


class FaultPlan:
    def __init__(self, config: EmulatorConfig, clock: Callable[[], float] = time.monotonic) -> None:
        self._config = config
        self._clock = clock
        self._lock = threading.Lock()
        # Not for security: a seeded RNG so fault sequences repeat run to run.
        self._rng = random.Random(config.seed)  # noqa: S311
        self._scripted: deque[Fault] = deque()
        self._window: deque[float] = deque()

    def inject(self, fault: Fault, times: int = 1) -> None:
        if times < 1:
            raise ValueError(f"times must be >= 1, got {times!r}")
        with self._lock:
            self._scripted.extend([fault] * times)

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._scripted)

    def clear(self) -> None:
        """Drop pending scripted faults and forget the rate window."""
        with self._lock:
            self._scripted.clear()
            self._window.clear()

    def decide(self) -> Decision:
        """The fate of one arriving request."""
        cfg = self._config
        with self._lock:
            # Every random number is drawn on every request, so one setting or
            # outcome does not shift the sequence the others see.
            delay = cfg.latency + self._rng.uniform(0.0, cfg.jitter)
            if self._scripted:
                return self._scripted_decision(self._scripted.popleft(), delay)
            throttled = self._throttle()
            reset = self._rng.random() < cfg.reset_rate
            error = self._rng.random() < cfg.error_rate
            error_status = self._rng.choice((500, 503))
            slow = self._rng.random() < cfg.slow_rate
        if slow:
            delay += cfg.slow_seconds
        if throttled is not None:
            return Decision(delay, throttled, fault="rpm")
        if reset:
            return Decision(delay, reset=True, fault="reset_rate")
        if error:
            return Decision(delay, error_reply(error_status), fault="error_rate")
        return Decision(delay, fault="slow_rate" if slow else None)

    @staticmethod
    def _scripted_decision(fault: Fault, delay: float) -> Decision:
        delay += fault.delay
        if fault.reset:
            return Decision(delay, reset=True, fault="injected")
        if fault.status is not None and not 200 <= fault.status < 300:
            reply = error_reply(
                fault.status, fault.code, fault.message, retry_after=fault.retry_after
            )
            return Decision(delay, reply, fault="injected")
        return Decision(delay, fault="injected")

    def _throttle(self) -> Reply | None:
        """A 429 when the sliding window is full; otherwise the request takes a slot."""
        rpm = self._config.rpm
        if rpm is None:
            return None
        window = self._config.rate_window
        allowed = max(1, int(rpm * window / 60.0))
        now = self._clock()
        while self._window and self._window[0] <= now - window:
            self._window.popleft()
        if len(self._window) >= allowed:
            wait = max(1, math.ceil(self._window[0] + window - now))
            return error_reply(
                429,
                "Throttling.RateQuota",
                "Requests rate limit exceeded, please try again later.",
                retry_after=wait,
            )
        self._window.append(now)
        return None
