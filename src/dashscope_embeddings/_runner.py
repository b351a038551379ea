"""Running a call's planned requests: concurrency, pacing, retries, narrowing, stopping.

The transport makes one attempt; everything that depends on the whole call
lives here, because one request cannot see it:

- **One cap per instance.** Every attempt holds a slot of the instance's
  ``ConcurrencyLimiter`` (threads, event loops, sync and async together),
  and books its send time with the instance's ``Pacer``.
- **Back-pressure is not failure.** A 429 slows the whole instance (the
  limiter halves its cap, the pacer its rate, a ``Retry-After`` holds every
  new request). A request that used its ``max_retries`` retries keeps trying
  while the call makes progress; the call gives up only when nothing of it
  has succeeded for ``give_up_after`` seconds, and then raises the last
  error (the idea of gRPC's retry throttling: retry while the service is
  mostly answering). ``max_retries=0`` still means "never retry".
- **Narrowing.** A 400 for a batch of several inputs splits the batch in two
  and tries each half, down to the input(s) the service refuses; the rest of
  the batch is embedded.
- **Stop means stop.** After the first error (in time, not in input order)
  that is not retried, no new attempt starts (except the narrowing of the
  batch that produced it, so that the error can name the refused input and
  the rest of that batch is kept),
  waits are abandoned, and the call returns once the requests already on the
  wire have answered: what they bring back is kept in the error's
  ``embeddings``. A ``KeyboardInterrupt`` or a cancellation returns at once;
  worker threads notice the stop within ``_POLL`` seconds and start nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from ._errors import BadRequestError, DashScopeError
from ._limiter import _POLL, ConcurrencyLimiter, Stopped
from ._pacing import Pacer
from ._planner import PlannedRequest, split_request
from ._retry import RetryPolicy

__all__ = ["JobOutcome", "Runner"]

T = TypeVar("T")

GIVE_UP_AFTER = 30.0
"""Seconds without any success after which a call stops retrying and raises."""


@dataclass
class JobOutcome(Generic[T]):
    """What a call achieved: every answered (sub)request, and the error that stopped it."""

    results: list[T] = field(default_factory=list)
    error: DashScopeError | None = None


class _Job(Generic[T]):
    """The shared state of one call."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.outcome: JobOutcome[T] = JobOutcome()
        self.culprit: int | None = None
        self.last_progress = clock()
        self.on_wire: set[int] = set()
        """Async units awaiting an answer (only touched on the call's loop)."""

    def stopped(self, unit: int) -> bool:
        return self.stop.is_set() and unit != self.culprit

    def done(self, result: T) -> None:
        with self.lock:
            self.outcome.results.append(result)
            self.last_progress = self.clock()

    def fail(self, error: DashScopeError, unit: int) -> None:
        with self.lock:
            if self.outcome.error is None:
                self.outcome.error = error
                self.culprit = unit
            self.stop.set()


class Runner:
    def __init__(
        self,
        limiter: ConcurrencyLimiter,
        pacer: Pacer,
        policy: RetryPolicy,
        give_up_after: float = GIVE_UP_AFTER,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limiter = limiter
        self.pacer = pacer
        self.policy = policy
        self.give_up_after = give_up_after
        self._clock = clock
        self.throttles = 0
        """429s answered so far (see ``_Booking``). Unlocked: a lost increment
        still changes the count, which is all a waiting request looks at."""

    # -- deciding what a failure means -------------------------------------------

    def _next(
        self,
        job: _Job[T],
        unit: int,
        request: PlannedRequest,
        error: DashScopeError,
        retries: int,
        sent: float,
    ) -> float | tuple[PlannedRequest, ...]:
        """After a failed attempt: seconds to wait before retrying, or the halves of a
        refused batch to try instead; ``Stopped`` when the call fails with ``error``."""
        if error.status_code == 429:
            self.throttles += 1
            self.pacer.throttled(error.retry_after)
            self.limiter.throttled(sent)
        if isinstance(error, BadRequestError) and len(request.slots) > 1:
            return split_request(request)
        delay = self._retry_delay(job, error, retries)
        if delay is None:
            job.fail(self._locate(error, request), unit)
            raise Stopped
        return delay

    def _retry_delay(self, job: _Job[T], error: DashScopeError, retries: int) -> float | None:
        delay = self.policy.delay(retries, error)
        if delay is not None or self.policy.max_retries == 0:
            return delay
        if not self.policy.is_retryable(error):
            return None
        # Out of retries: go on only while the call is making progress.
        delay = self.policy.wait(retries, error)
        if self._clock() + delay - job.last_progress <= self.give_up_after:
            return delay
        return None

    @staticmethod
    @contextlib.contextmanager
    def _half(job: _Job[T], unit: int) -> Iterator[None]:
        """One half of a refused batch: its own refusal does not stop the other half."""
        try:
            yield
        except Stopped:
            if job.stopped(unit):
                raise

    @staticmethod
    def _locate(error: DashScopeError, request: PlannedRequest) -> DashScopeError:
        error.input_indices = request.positions
        if isinstance(error, BadRequestError) and len(request.positions) == 1:
            error.message = f"the service refused input {request.positions[0]}: {error.message}"
            error.args = (error.message,)
        return error

    # -- sync: a pool of threads ---------------------------------------------------

    def run(
        self,
        requests: Sequence[PlannedRequest],
        send: Callable[[PlannedRequest], T],
        on_done: Callable[[], None] | None = None,
    ) -> JobOutcome[T]:
        """Runs every request (in threads unless there is one); never raises ``DashScopeError``."""
        job: _Job[T] = _Job(self._clock)
        if len(requests) <= 1:  # nothing to run in parallel (or nothing at all)
            for request in requests:
                self._unit(job, 0, request, send, on_done)
            return job.outcome
        # One thread per slot: measured, twice as many threads (to keep the cap
        # busy while some sleep before a retry) cost ~10% of throughput to GIL
        # and wake-up contention on the happy path.
        workers = min(len(requests), self.limiter.ceiling)
        pool = ThreadPoolExecutor(workers, thread_name_prefix="dashscope-embeddings")
        try:
            futures = [
                pool.submit(self._unit, job, unit, request, send, on_done)
                for unit, request in enumerate(requests)
            ]
            for future in futures:
                future.result()
        finally:
            job.stop.set()  # a KeyboardInterrupt here: the workers start nothing more
            pool.shutdown(wait=False, cancel_futures=True)
        return job.outcome

    def _unit(
        self,
        job: _Job[T],
        unit: int,
        request: PlannedRequest,
        send: Callable[[PlannedRequest], T],
        on_done: Callable[[], None] | None,
    ) -> None:
        try:
            self._attempts(job, unit, request, send)
        except Stopped:
            return
        if on_done is not None:
            on_done()

    def _attempts(
        self, job: _Job[T], unit: int, request: PlannedRequest, send: Callable[[PlannedRequest], T]
    ) -> None:
        retries = 0
        while True:
            with self.limiter.slot(lambda: job.stopped(unit)):
                sent = self._clock()
                try:
                    booking = _Booking(self, request.tokens)
                    while (pause := booking.wait()) > 0:
                        self._sleep(job, unit, pause)
                    if job.stopped(unit):
                        raise Stopped
                    sent = self._clock()
                    self._succeeded(job, send(request))
                    return
                except DashScopeError as error:
                    step = self._next(job, unit, request, error, retries, sent)
            if isinstance(step, float):
                self._sleep(job, unit, step)
                retries += 1
                continue
            for half in step:
                with self._half(job, unit):
                    self._attempts(job, unit, half, send)
            return

    def _sleep(self, job: _Job[T], unit: int, seconds: float) -> None:
        deadline = self._clock() + seconds
        while (left := deadline - self._clock()) > 0:
            if job.stopped(unit):
                raise Stopped
            # Wakes at once when the call stops; the culprit's narrowing sleeps on.
            if job.stop.is_set():
                time.sleep(min(left, _POLL))
            else:
                job.stop.wait(left)
        if job.stopped(unit):
            raise Stopped

    def _succeeded(self, job: _Job[T], result: T) -> None:
        self.pacer.succeeded()
        self.limiter.succeeded()
        job.done(result)

    # -- async: one task per request --------------------------------------------

    async def arun(
        self,
        requests: Sequence[PlannedRequest],
        send: Callable[[PlannedRequest], Awaitable[T]],
        on_done: Callable[[], None] | None = None,
    ) -> JobOutcome[T]:
        """Like ``run``, on the running loop; never blocks it."""
        job: _Job[T] = _Job(self._clock)
        units = {
            asyncio.ensure_future(self._aunit(job, unit, request, send, on_done)): unit
            for unit, request in enumerate(requests)
        }

        # Checked as each unit ends (a callback each, not a wait over all the
        # pending ones per ending, which was quadratic in the requests).
        def abandon_after_a_stop(_: object) -> None:
            if not job.stop.is_set():
                return
            # Whatever waits (for a slot, a booking or a retry) is abandoned;
            # requests on the wire answer and are kept.
            for task, unit in units.items():
                if not task.done() and unit not in job.on_wire and job.stopped(unit):
                    task.cancel()

        for task in units:
            task.add_done_callback(abandon_after_a_stop)
        try:
            ended = await asyncio.gather(*units, return_exceptions=True)
        finally:
            for task in units:
                task.cancel()
            await asyncio.gather(*units, return_exceptions=True)
        for outcome in ended:  # a bug, never a DashScopeError (the job keeps those)
            if isinstance(outcome, Exception):
                raise outcome
        return job.outcome

    async def _aunit(
        self,
        job: _Job[T],
        unit: int,
        request: PlannedRequest,
        send: Callable[[PlannedRequest], Awaitable[T]],
        on_done: Callable[[], None] | None,
    ) -> None:
        try:
            await self._aattempts(job, unit, request, send)
        except Stopped:
            return
        if on_done is not None:
            on_done()

    async def _aattempts(
        self,
        job: _Job[T],
        unit: int,
        request: PlannedRequest,
        send: Callable[[PlannedRequest], Awaitable[T]],
    ) -> None:
        retries = 0
        while True:
            if job.stopped(unit):
                raise Stopped
            async with self.limiter.aslot():
                sent = self._clock()
                try:
                    booking = _Booking(self, request.tokens)
                    # Steps, not an Event: the 429 may come from another thread or loop.
                    while (pause := booking.wait()) > 0:  # noqa: ASYNC110
                        await asyncio.sleep(pause)
                    if job.stopped(unit):
                        raise Stopped
                    sent = self._clock()
                    job.on_wire.add(unit)
                    try:
                        result = await send(request)
                    finally:
                        job.on_wire.discard(unit)
                    self._succeeded(job, result)
                    return
                except DashScopeError as error:
                    step = self._next(job, unit, request, error, retries, sent)
            if isinstance(step, float):
                await asyncio.sleep(step)
                retries += 1
                continue
            for half in step:
                with self._half(job, unit):
                    await self._aattempts(job, unit, half, send)
            return


class _Booking:
    """A request's wait for its pacer booking (which holds any ``Retry-After`` pause).

    A 429 that comes while it waits voids the bookings ahead: they were made
    at the old rate and may fall in the new pause, so the request books again.
    Waiting in steps of at most ``_POLL`` notices that without waking anyone.
    """

    def __init__(self, runner: Runner, tokens: int) -> None:
        self._runner = runner
        self._tokens = tokens
        self._book()

    def _book(self) -> None:
        self._seen = self._runner.throttles
        self._at = self._runner._clock() + self._runner.pacer.reserve(self._tokens)

    def wait(self) -> float:
        """Seconds to sleep before asking again; 0 once the request may be sent."""
        if self._runner.throttles != self._seen:
            self._book()
        return min(max(0.0, self._at - self._runner._clock()), _POLL)
