"""One measured call: wall time, client CPU, requests, what came back, what was raised."""

from __future__ import annotations

import gc
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from remote import RemoteEmulator


@dataclass
class Row:
    contender: str
    scenario: str
    concurrency: int | None
    inputs: int
    seconds: float
    cpu_seconds: float
    requests: int
    max_in_flight: int
    vectors: int
    throttled: int
    error: str = ""
    note: str = ""
    bound: float | None = None

    @property
    def ratio(self) -> float | None:
        """The bound over the time taken: 1.0 is as fast as the concurrency allows."""
        if self.bound is None or self.error:  # a call that gave up was not fast
            return None
        return self.bound / self.seconds


def _usable(vectors: Any, n: int) -> int:
    if not isinstance(vectors, list) or len(vectors) != n:
        return 0
    return sum(1 for v in vectors if v is not None and len(v) > 0)


def _settle(emu: RemoteEmulator) -> dict[str, Any]:
    """Counters once nothing is in flight (a failed call may leave threads sending)."""
    deadline = time.monotonic() + 10
    stats = emu.stats()
    while stats["in_flight"] and time.monotonic() < deadline:
        time.sleep(0.05)
        stats = emu.stats()
    return stats


def measure(
    name: str,
    scenario: str,
    concurrency: int | None,
    call: Callable[[list[str]], list[Any]],
    texts: list[Any],
    emu: RemoteEmulator,
    note: str = "",
) -> Row:
    gc.collect()
    error = ""
    cpu = time.process_time()
    start = time.perf_counter()
    try:
        vectors: Any = call(texts)
    except Exception as exc:  # a contender failing is a result, not a crash
        line = (str(exc).strip().splitlines() or [""])[0][:80]
        error = f"{type(exc).__name__}: {line}"
        # What a failed call keeps, where the library offers it (ours does).
        vectors = getattr(exc, "embeddings", None)
    seconds = time.perf_counter() - start
    cpu_seconds = time.process_time() - cpu
    stats = _settle(emu)
    return Row(
        contender=name,
        scenario=scenario,
        concurrency=concurrency,
        inputs=len(texts),
        seconds=seconds,
        cpu_seconds=cpu_seconds,
        requests=stats["requests"],
        max_in_flight=stats["max_in_flight"],
        vectors=_usable(vectors, len(texts)),
        throttled=stats["statuses"].get(429, 0),
        error=error,
        note=note,
    )


def peak_memory(call: Callable[[list[str]], list[Any]], texts: list[str]) -> tuple[float, float]:
    """Peak Python memory during the call, and the size of the vectors it returned (MB)."""
    gc.collect()
    tracemalloc.start()
    try:
        vectors = call(texts)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # A list of n float objects: 24 bytes each, an 8-byte slot each, a 56-byte header.
    size = sum(len(v) * (24 + 8) + 56 for v in vectors)
    return peak / 2**20, size / 2**20
