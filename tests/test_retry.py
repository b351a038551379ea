"""Retry policy: what is retried, for how long, and how Retry-After is honoured."""

from __future__ import annotations

import email.utils

import pytest

from dashscope_embeddings import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    InputError,
    ProtocolError,
    RateLimitError,
    ServerError,
)
from dashscope_embeddings._errors import APIStatusError, DashScopeError
from dashscope_embeddings._retry import RetryPolicy, retry_after


def _status(code: int) -> APIStatusError:
    return APIStatusError("x", status_code=code)


@pytest.mark.parametrize(
    "error",
    [
        _status(408),
        _status(409),
        RateLimitError("x", status_code=429),
        ServerError("x", status_code=500),
        ServerError("x", status_code=503),
        APIConnectionError("reset"),
        APITimeoutError("slow"),
    ],
)
def test_transient_failures_are_retried(error: DashScopeError) -> None:
    assert RetryPolicy(random=lambda: 0.0).delay(0, error) == 0.5


@pytest.mark.parametrize(
    "error",
    [
        BadRequestError("x", status_code=400),
        AuthenticationError("x", status_code=401),
        AuthenticationError("x", status_code=403),
        _status(404),
        ProtocolError("short answer"),
        InputError("bad"),
    ],
)
def test_permanent_failures_are_not_retried(error: DashScopeError) -> None:
    assert RetryPolicy().delay(0, error) is None


def test_backoff_doubles_up_to_the_cap_with_jitter_below_it() -> None:
    no_jitter = RetryPolicy(max_retries=10, random=lambda: 0.0)
    full_jitter = RetryPolicy(max_retries=10, random=lambda: 1.0)
    err = ServerError("x", status_code=500)
    assert [no_jitter.delay(n, err) for n in range(6)] == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0]
    assert [full_jitter.delay(n, err) for n in range(3)] == [0.375, 0.75, 1.5]


def test_gives_up_after_max_retries() -> None:
    policy = RetryPolicy(max_retries=2)
    err = ServerError("x", status_code=500)
    assert policy.delay(1, err) is not None
    assert policy.delay(2, err) is None


def _asked(error: DashScopeError, headers: dict[str, str], now: float = 0.0) -> DashScopeError:
    # What the transport does with an answer's headers.
    error.retry_after = retry_after(headers, lambda: now)
    return error


def test_retry_after_seconds_replaces_backoff() -> None:
    err = RateLimitError("x", status_code=429)
    assert RetryPolicy().delay(0, _asked(err, {"retry-after": "7"})) == 7.0
    assert RetryPolicy().delay(0, _asked(err, {"retry-after-ms": "250"})) == 0.25


def test_retry_after_http_date() -> None:
    now = 1_800_000_000.0
    date = email.utils.formatdate(now + 12, usegmt=True)
    err = _asked(RateLimitError("x", status_code=429), {"retry-after": date}, now)
    assert RetryPolicy(random=lambda: 0.0).delay(0, err) == 12.0


@pytest.mark.parametrize("value", ["3600", "-1", "soon"])
def test_unreasonable_retry_after_falls_back_to_backoff(value: str) -> None:
    policy = RetryPolicy(random=lambda: 0.0)
    err = _asked(ServerError("x", status_code=503), {"retry-after": value})
    assert err.retry_after is None
    assert policy.delay(1, err) == 1.0
