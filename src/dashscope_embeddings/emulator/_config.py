"""The emulator's settings: one frozen value shared by the CLI and the in-process helper."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TypeGuard

__all__ = ["EmulatorConfig"]


@dataclass
class EmulatorConfig:
    """How the emulator behaves. Every field is optional; the defaults are a fast, fault-free
    service on a free loopback port.

    The fault fields (``latency`` ... ``api_key``) are read on every request, so a
    running emulator can be retuned in place (``emu.config.latency = 0.2``);
    ``seed`` and ``max_records`` are read when the ``Emulator`` is made,
    ``host`` and ``port`` when it starts.
    Random faults and ``jitter`` draw from one RNG seeded with ``seed``, so the
    same requests in the same order meet the same faults.
    """

    latency: float = 0.0
    """Seconds added to every request before it is answered."""
    jitter: float = 0.0
    """Extra uniform random delay in ``[0, jitter]`` seconds per request."""
    rpm: int | None = None
    """Requests allowed per minute, counted in a sliding window of ``rate_window`` seconds;
    above it: 429 ``Throttling.RateQuota``."""
    rate_window: float = 60.0
    """Seconds of the sliding window that ``rpm`` is counted in; it allows
    ``rpm × rate_window / 60`` requests (at least one). A short window makes a
    per-second quota, which a burst of requests runs into at once."""
    error_rate: float = 0.0
    """Probability of a random 500 ``InternalError`` / 503 ``ServiceUnavailable``."""
    reset_rate: float = 0.0
    """Probability of closing the connection abruptly instead of answering."""
    slow_rate: float = 0.0
    """Probability of answering only after ``slow_seconds`` (to exercise client timeouts)."""
    slow_seconds: float = 5.0
    seed: int = 0
    api_key: str | None = None
    """When set, only ``Authorization: Bearer <api_key>`` is accepted; otherwise any key is."""
    host: str = "127.0.0.1"
    port: int = 0
    """0 picks a free port; read it back from ``Emulator.base_url``."""
    max_records: int = 10_000
    """Recorded requests kept (oldest dropped first), so a long-running emulator stays small."""
    max_body_bytes: int = 512 * 1024 * 1024
    """Larger request bodies get 413; the biggest legal request (64 inline images) fits."""

    def __setattr__(self, name: str, value: object) -> None:
        # Checked on every assignment, at construction and when retuned later:
        # a bad value would otherwise surface as a confusing error inside the
        # server thread.
        _check(name, value)
        super().__setattr__(name, value)

    def __repr__(self) -> str:
        fields = ", ".join(
            f"{name}={'<set>' if name == 'api_key' and value else value!r}"
            for name, value in vars(self).items()
        )
        return f"EmulatorConfig({fields})"


def _number(value: object) -> TypeGuard[float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _integer(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _seconds(value: object) -> bool:
    return _number(value) and value >= 0


def _positive(value: object) -> bool:
    return _number(value) and value > 0


def _rate(value: object) -> bool:
    return _number(value) and 0.0 <= value <= 1.0


def _rpm(value: object) -> bool:
    return value is None or (_integer(value) and value >= 1)


def _port(value: object) -> bool:
    return _integer(value) and 0 <= value <= 65535


def _count(value: object) -> bool:
    return _integer(value) and value >= 0


def _size(value: object) -> bool:
    return _integer(value) and value >= 1


_RULES: Mapping[str, tuple[Callable[[object], bool], str]] = MappingProxyType(
    {
        "latency": (_seconds, "a number >= 0"),
        "jitter": (_seconds, "a number >= 0"),
        "slow_seconds": (_seconds, "a number >= 0"),
        "rate_window": (_positive, "a number > 0"),
        "error_rate": (_rate, "a number between 0 and 1"),
        "reset_rate": (_rate, "a number between 0 and 1"),
        "slow_rate": (_rate, "a number between 0 and 1"),
        "rpm": (_rpm, "a positive integer or None"),
        "port": (_port, "an integer between 0 and 65535"),
        "max_records": (_count, "an integer >= 0"),
        "max_body_bytes": (_size, "an integer >= 1"),
    }
)


def _check(name: str, value: object) -> None:
    rule = _RULES.get(name)
    if rule is not None and not rule[0](value):
        raise ValueError(f"{name} must be {rule[1]}, got {value!r}")
