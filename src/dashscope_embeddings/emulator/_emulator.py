"""The in-process helper: the server on its own event loop in a background thread.

Its own loop and thread, so tests can call it from synchronous code, from
many threads, and from any number of other event loops at once without the
emulator ever depending on (or blocking) the caller's loop.
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from types import TracebackType
from typing import Any

from ._config import EmulatorConfig
from ._faults import Fault
from ._server import EmulatorServer
from ._state import RecordedRequest, Stats

__all__ = ["Emulator"]

_START_TIMEOUT = 30.0


class Emulator:
    """A local DashScope embedding service for tests, demos and benchmarks.

    ::

        with Emulator(latency=0.05) as emu:
            client = DashScopeEmbeddings(base_url=emu.base_url, api_key="any")
            emu.inject(status=503, times=2)

    Keyword arguments override fields of ``config`` (see ``EmulatorConfig``).
    """

    def __init__(self, config: EmulatorConfig | None = None, **overrides: Any) -> None:
        config = config or EmulatorConfig()
        if overrides:
            config = dataclasses.replace(config, **overrides)
        self.config = config
        """Live settings: assigning a field (``emu.config.latency = 0.2``) applies to the
        next request. ``reset()`` puts back the values the emulator was made with."""
        self._initial = dataclasses.replace(config)
        self._server = EmulatorServer(config)
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._base_url: str | None = None

    # -- lifecycle ---------------------------------------------------------

    def start(self) -> Emulator:
        with self._lock:
            if self._thread is not None:
                raise RuntimeError("the emulator is already running")
            ready = threading.Event()
            failure: list[BaseException] = []
            thread = threading.Thread(
                target=self._run, args=(ready, failure), name="dashscope-emulator", daemon=True
            )
            thread.start()
            if not ready.wait(_START_TIMEOUT):
                raise RuntimeError("the emulator did not start in time")
            if failure:
                thread.join()
                raise failure[0]
            self._thread = thread
            return self

    def _run(self, ready: threading.Event, failure: list[BaseException]) -> None:
        loop = asyncio.new_event_loop()
        try:
            self._base_url = loop.run_until_complete(self._server.start())
        except BaseException as exc:  # reported to start() in the caller's thread
            failure.append(exc)
            loop.close()
            ready.set()
            return
        self._loop = loop
        ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(self._server.close())
            loop.run_until_complete(loop.shutdown_default_executor())
            loop.close()

    def stop(self) -> None:
        """Stop listening and drop every connection. Safe to call twice."""
        with self._lock:
            thread, loop = self._thread, self._loop
            self._thread = self._loop = None
            self._base_url = None
            if thread is None or loop is None:
                return
            loop.call_soon_threadsafe(loop.stop)
            thread.join()

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._thread is not None

    # -- where it listens --------------------------------------------------

    @property
    def base_url(self) -> str:
        """Native API base, e.g. ``http://127.0.0.1:8765/api/v1``."""
        if self._base_url is None:
            raise RuntimeError("the emulator is not running; call start() or use `with`")
        return self._base_url

    @property
    def port(self) -> int:
        port = self._server.port
        if port is None:
            raise RuntimeError("the emulator is not running")
        return port

    # -- faults and observations -------------------------------------------

    def inject(
        self,
        status: int | None = None,
        *,
        times: int = 1,
        retry_after: int | None = None,
        code: str | None = None,
        message: str | None = None,
        reset: bool = False,
        delay: float | None = None,
    ) -> None:
        """Script the fate of the next ``times`` requests (FIFO, one fault per request).

        ``status``: answer it with this error status (``code``/``message`` default to
        the service's for that status; ``retry_after`` adds a ``Retry-After`` header).
        ``reset``: close the connection abruptly without answering.
        ``delay``: wait this many seconds first (alone: then answer normally).
        Scripted faults win over the random faults of the config.
        """
        fault = Fault(
            status=status,
            reset=reset,
            delay=delay or 0.0,
            retry_after=retry_after,
            code=code,
            message=message,
        )
        self._server.faults.inject(fault, times)

    @property
    def pending_faults(self) -> int:
        """Scripted faults not yet consumed."""
        return self._server.faults.pending

    @property
    def stats(self) -> Stats:
        """Live counters: ``requests``, ``max_in_flight``, ``in_flight``, ``resets``,
        ``statuses``."""
        return self._server.stats

    @property
    def requests(self) -> list[RecordedRequest]:
        """Recorded requests, oldest first (a snapshot: later requests do not appear in it)."""
        return self._server.recorder.snapshot()

    def reset_stats(self) -> None:
        """Clear counters, recorded requests, pending scripted faults and the rate window."""
        self._server.stats.clear()
        self._server.recorder.clear()
        self._server.faults.clear()

    def reset(self) -> None:
        """``reset_stats()``, and undo changes made to ``config`` since construction."""
        for field in dataclasses.fields(self._initial):
            setattr(self.config, field.name, getattr(self._initial, field.name))
        self.reset_stats()

    def __repr__(self) -> str:
        where = self._base_url or "not running"
        return f"Emulator({where})"
