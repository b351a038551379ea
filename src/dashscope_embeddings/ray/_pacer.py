"""The cluster pacer: a ``Pacer`` whose budget lives in one Ray actor.

Every worker process holds a ``ClusterPacer``; all of them lease slices of
the same named ``Budget`` actor, so ``requests_per_minute`` and
``tokens_per_minute`` hold for the cluster, not per worker. A worker asks the
actor once per slice (about half a second of schedule), never per request,
and reports its successes with that same call.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import ray

from ._budget import Budget, Lease

__all__ = ["ClusterPacer", "budget_actor"]

NAMESPACE = "dashscope_embeddings"


class _BudgetActor:
    """The ``Budget`` on the actor's clock; workers only ever see relative times."""

    def __init__(self, requests_per_minute: float | None, tokens_per_minute: float | None) -> None:
        self._budget = Budget(requests_per_minute, tokens_per_minute)

    def configure(self, requests_per_minute: float | None, tokens_per_minute: float | None) -> None:
        self._budget.configure(requests_per_minute, tokens_per_minute)

    def lease(self, tokens: int, sent: int, succeeded: int) -> Lease:
        return self._budget.lease(time.monotonic(), tokens, sent, succeeded)

    def give_back(self, ticket: float, unused: float, sent: int, succeeded: int) -> None:
        self._budget.give_back(time.monotonic(), ticket, unused, sent, succeeded)

    def throttled(self, retry_after: float | None) -> None:
        self._budget.throttled(time.monotonic(), retry_after)


def budget_actor(
    name: str, requests_per_minute: float | None, tokens_per_minute: float | None
) -> Any:
    """The cluster's budget actor called ``name``, made by whichever worker asks first.

    Detached and in a fixed namespace: it outlives the worker that made it
    (actor pools scale down) and is shared by every job of the cluster that
    uses the same account, which is what the service's quota counts.
    """
    actor: Any = (
        ray.remote(_BudgetActor)
        .options(
            name=name,
            namespace=NAMESPACE,
            get_if_exists=True,
            lifetime="detached",
            num_cpus=0,
        )
        .remote(requests_per_minute, tokens_per_minute)
    )
    ray.get(actor.configure.remote(requests_per_minute, tokens_per_minute))
    return actor


class ClusterPacer:
    """Implements ``dashscope_embeddings._pacing.Pacer``; thread-safe."""

    def __init__(self, budget: Any, clock: Callable[[], float] = time.monotonic) -> None:
        self._budget = budget
        self._clock = clock
        self._lock = threading.Lock()
        self._lease: Lease | None = None
        self._next = 0.0
        """Local time of the next unspent moment of the current slice."""
        self._end = 0.0
        self._sent = 0
        self._succeeded = 0

    def reserve(self, tokens: int) -> float:
        with self._lock:
            while True:
                now = self._clock()
                lease = self._lease
                if lease is not None:
                    cost = max(lease.request_cost, tokens * lease.token_cost)
                    # Moments already past are forfeit: spending them late would
                    # burst above the quota's rate.
                    slot = max(now, self._next)
                    # The tolerance: a slice holds a whole number of costs, and
                    # rounding must not leave its last request out.
                    if slot + cost <= self._end + 1e-9:
                        self._next = slot + cost
                        self._sent += 1
                        return slot - now
                self._take(self._budget.lease.remote(tokens, *self._report()))

    def _take(self, pending: Any) -> None:
        lease: Lease = ray.get(pending)
        # The slice's start is relative to when the actor granted it; counting
        # from when it arrived here errs on the late, safe side.
        self._lease = lease
        self._next = self._clock() + lease.start
        self._end = self._next + lease.duration

    def _report(self) -> tuple[int, int]:
        counts = self._sent, self._succeeded
        self._sent = self._succeeded = 0
        return counts

    def throttled(self, retry_after: float | None) -> None:
        with self._lock:
            # Drop the slice: the next one starts after the actor's pause.
            self._lease = None
            ray.get(self._budget.throttled.remote(retry_after))

    def succeeded(self) -> None:
        with self._lock:
            self._succeeded += 1

    def release(self) -> None:
        """Hand back the rest of the current slice (a batch is done) and report counts."""
        with self._lock:
            lease, self._lease = self._lease, None
            unused = 0.0
            if lease is not None and (lease.request_cost or lease.token_cost):
                unused = max(0.0, self._end - max(self._clock(), self._next))
            ticket = lease.ticket if lease is not None else 0.0
            ray.get(self._budget.give_back.remote(ticket, unused, *self._report()))
