"""What the emulator observed: counters and recorded requests, safe to read from any thread."""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

__all__ = ["RecordedRequest", "Recorder", "Stats"]


@dataclass(eq=False)
class RecordedRequest:
    """One request as the emulator saw it.

    Recorded when its headers arrive, so ``Emulator.requests`` lists requests
    in arrival order; the fields below are filled in as it is handled, and
    ``status`` is set before the answer is written (a client holding its
    answer always finds it here).
    """

    method: str
    path: str
    """The request target as sent, query string included."""
    headers: dict[str, str]
    """Lower-case names. Holds the caller's ``authorization`` header: keep records private."""
    body: Any = None
    """The parsed JSON body; ``None`` when it was empty, not JSON, or not yet read."""
    status: int | None = None
    """The status answered; ``None`` when the connection was reset instead (or still pending)."""
    request_id: str | None = None
    fault: str | None = None
    """Which fault decided its fate (``"injected"``, ``"rpm"``, ``"error_rate"``, ...), if any."""
    outcome: str = "pending"
    """``"answered"``, ``"reset"`` (dropped on purpose), ``"client_disconnected"`` or
    ``"pending"``."""
    arrived: float = field(default_factory=time.monotonic)
    """``time.monotonic()`` when its headers arrived: count requests per time window."""

    def settle(self, status: int, request_id: str | None, fault: str | None) -> None:
        """Record the answer; called before it is written, so a client holding its
        answer always finds the status here."""
        self.request_id = request_id
        self.fault = fault
        self.status = status
        # Last, so a reader never sees "answered" without a status.
        self.outcome = "answered"

    def __repr__(self) -> str:
        # Records end up in assertion messages and logs; the key must not.
        shown = {k: ("<redacted>" if k == "authorization" else v) for k, v in self.headers.items()}
        return (
            f"RecordedRequest(method={self.method!r}, path={self.path!r}, headers={shown!r}, "
            f"status={self.status!r}, outcome={self.outcome!r}, fault={self.fault!r}, "
            f"request_id={self.request_id!r}, body=<{type(self.body).__name__}>)"
        )


class Recorder:
    def __init__(self, max_records: int) -> None:
        self._lock = threading.Lock()
        self._records: deque[RecordedRequest] = deque(maxlen=max_records)

    def open(self, method: str, path: str, headers: dict[str, str]) -> RecordedRequest:
        record = RecordedRequest(method, path, headers)
        with self._lock:
            self._records.append(record)
        return record

    def snapshot(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._records)

    def clear(self) -> None:
        with self._lock:
            self._records.clear()


class _Counter:
    """A counter of ``Stats``, read under its lock: never half of an update."""

    def __init__(self, doc: str) -> None:
        self.__doc__ = doc

    def __set_name__(self, owner: type, name: str) -> None:
        self._field = "_" + name

    def __get__(self, stats: Stats, owner: type | None = None) -> int:
        with stats._lock:
            value: int = getattr(stats, self._field)
            return value


class Stats:
    """Live counters. Attributes read the current values; ``Emulator.reset_stats`` clears them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests = 0
        self._in_flight = 0
        self._max_in_flight = 0
        self._resets = 0
        self._connections = 0
        self._statuses: Counter[int] = Counter()

    requests = _Counter("HTTP requests received, on every path, answered or not.")
    in_flight = _Counter("Requests being handled now.")
    max_in_flight = _Counter("Most requests being handled at the same time since the last reset.")
    resets = _Counter("Connections closed abruptly instead of answering.")
    connections = _Counter("TCP connections accepted: a client that reuses them opens few.")

    @property
    def statuses(self) -> dict[int, int]:
        """Answers sent, by status code."""
        with self._lock:
            return dict(self._statuses)

    def connected(self) -> None:
        with self._lock:
            self._connections += 1

    def started(self) -> None:
        with self._lock:
            self._requests += 1
            self._in_flight += 1
            self._max_in_flight = max(self._max_in_flight, self._in_flight)

    def finished(self, status: int | None, *, reset: bool = False) -> None:
        """``status`` ``None``: no answer (a reset, or the client went away)."""
        with self._lock:
            self._in_flight -= 1
            if reset:
                self._resets += 1
            if status is not None:
                self._statuses[status] += 1

    def clear(self) -> None:
        with self._lock:
            # Requests still being handled will call finished(): keep them counted
            # in flight so the counter never goes negative.
            self._requests = 0
            self._max_in_flight = self._in_flight
            self._resets = 0
            self._connections = 0
            self._statuses.clear()

    def __repr__(self) -> str:
        with self._lock:
            return (
                f"Stats(requests={self._requests}, in_flight={self._in_flight}, "
                f"max_in_flight={self._max_in_flight}, resets={self._resets}, "
                f"connections={self._connections}, "
                f"statuses={dict(self._statuses)})"
            )
