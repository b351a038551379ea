"""Retry policy: which failures are retried, and how long to wait. No I/O.

The policy of openai-python: retry 408, 409, 429, 5xx, timeouts and
connection errors; exponential backoff from 0.5 s capped at 8 s, with up to
25% jitter so that parallel batches do not retry in lock-step; a
``Retry-After`` (or ``retry-after-ms``) of at most 60 s replaces the backoff.

A ``Retry-After`` above 60 s (or unreadable, or in the past) is ignored and
the ordinary backoff applies, as openai-python's ``_calculate_retry_timeout``
does: a server asking for minutes is more likely misconfigured than meaning
it, and the runner's ``give_up_after`` bounds how long a call keeps trying in
any case. The transport reads the header once (``retry_after``) and puts the
seconds on the error; the policy reads the error, and the runner decides,
with this policy and the call's progress, whether to try again (see ``_runner``).
"""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from ._errors import APIConnectionError, APIStatusError, DashScopeError

__all__ = ["RetryPolicy", "retry_after"]

RETRYABLE_STATUS = frozenset({408, 409, 429})
MAX_RETRY_AFTER = 60.0


def retry_after(headers: Mapping[str, str], now: Callable[[], float] = time.time) -> float | None:
    """Seconds the server asked us to wait, if it said so and it is sane."""
    raw_ms = headers.get("retry-after-ms")
    if raw_ms is not None:
        try:
            seconds = float(raw_ms) / 1000
        except ValueError:
            seconds = -1
        if 0 <= seconds <= MAX_RETRY_AFTER:
            return seconds
    raw = headers.get("retry-after")
    if raw is None:
        return None
    try:
        seconds = float(raw)
    except ValueError:
        parsed = email.utils.parsedate_tz(raw)
        if parsed is None:
            return None
        seconds = email.utils.mktime_tz(parsed) - now()
    return seconds if 0 <= seconds <= MAX_RETRY_AFTER else None


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 3
    base_delay: float = 0.5
    max_delay: float = 8.0
    jitter: float = 0.25
    random: Callable[[], float] = field(default=random.random, repr=False)

    @staticmethod
    def is_retryable(error: DashScopeError) -> bool:
        if isinstance(error, APIConnectionError):  # includes timeouts
            return True
        if isinstance(error, APIStatusError) and error.status_code is not None:
            return error.status_code in RETRYABLE_STATUS or error.status_code >= 500
        return False

    def delay(self, retries_done: int, error: DashScopeError) -> float | None:
        """Seconds to wait before the next try, or ``None`` to give up and raise ``error``."""
        if retries_done >= self.max_retries or not self.is_retryable(error):
            return None
        return self.wait(retries_done, error)

    def wait(self, retries_done: int, error: DashScopeError) -> float:
        """Seconds before try number ``retries_done + 1``, whatever the retry budget says."""
        if error.retry_after is not None:
            return error.retry_after
        backoff = min(self.base_delay * 2.0**retries_done, self.max_delay)
        return backoff * (1.0 - self.jitter * self.random())
