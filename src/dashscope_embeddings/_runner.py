"""Concurrent execution of planned requests, sync (threads) and async (tasks).

At most ``max_concurrency`` requests are in flight per client instance, on
both paths. Each request retries on its own (in the transport); the first
error that survives its retries cancels whatever has not started and is
raised with the input positions of its batch.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from typing import TypeVar

from ._errors import DashScopeError
from ._planner import PlannedRequest

__all__ = ["Runner"]

T = TypeVar("T")


def _locate(error: DashScopeError, request: PlannedRequest) -> DashScopeError:
    if not error.input_indices:
        error.input_indices = request.positions
    return error


class _Cancelled(Exception):
    """A request skipped because another one already failed."""


class Runner:
    def __init__(self, max_concurrency: int) -> None:
        self.max_concurrency = max_concurrency
        self._slots = threading.BoundedSemaphore(max_concurrency)
        self._async_slots: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, asyncio.Semaphore
        ] = weakref.WeakKeyDictionary()

    def run(
        self,
        requests: Sequence[PlannedRequest],
        send: Callable[[PlannedRequest], T],
        on_done: Callable[[], None] | None = None,
    ) -> list[T]:
        """Results in the order of ``requests``."""
        failed = threading.Event()

        def guarded(request: PlannedRequest) -> T:
            with self._slots:
                if failed.is_set():
                    raise _Cancelled
                try:
                    result = send(request)
                except DashScopeError as error:
                    failed.set()
                    raise _locate(error, request) from None
                except BaseException:
                    failed.set()
                    raise
            if on_done is not None:
                on_done()
            return result

        if len(requests) == 1:
            return [guarded(requests[0])]
        workers = min(self.max_concurrency, len(requests))
        pool = ThreadPoolExecutor(workers, thread_name_prefix="dashscope-embeddings")
        try:
            futures: list[Future[T]] = [pool.submit(guarded, r) for r in requests]
            wait(futures, return_when=FIRST_EXCEPTION)
            for future in futures:
                if future.done() and not future.cancelled():
                    error = future.exception()
                    if error is not None and not isinstance(error, _Cancelled):
                        raise error
            return [future.result() for future in futures]
        finally:
            pool.shutdown(wait=False, cancel_futures=True)

    def _semaphore(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        semaphore = self._async_slots.get(loop)
        if semaphore is None:
            semaphore = self._async_slots[loop] = asyncio.Semaphore(self.max_concurrency)
        return semaphore

    async def arun(
        self,
        requests: Sequence[PlannedRequest],
        send: Callable[[PlannedRequest], Awaitable[T]],
        on_done: Callable[[], None] | None = None,
    ) -> list[T]:
        """Results in the order of ``requests``; never blocks the event loop."""
        semaphore = self._semaphore()

        async def guarded(request: PlannedRequest) -> T:
            async with semaphore:
                try:
                    result = await send(request)
                except DashScopeError as error:
                    raise _locate(error, request) from None
            if on_done is not None:
                on_done()
            return result

        tasks = [asyncio.ensure_future(guarded(r)) for r in requests]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
            for task in tasks:
                if task.done() and not task.cancelled() and task.exception() is not None:
                    raise task.exception()  # type: ignore[misc]
            return [task.result() for task in tasks]
        finally:
            pending = [task for task in tasks if not task.done()]
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.gather(*pending, return_exceptions=True)
