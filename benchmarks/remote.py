"""The package's ``Emulator`` in a child process, steered from the benchmark.

In its own process the emulator's work (JSON, vectors, image decoding) is not
counted as the client's CPU time and does not compete with the client for
the GIL; the benchmark's process then measures the client alone.
"""

from __future__ import annotations

import multiprocessing as mp
from multiprocessing.connection import Connection
from typing import Any

from dashscope_embeddings.emulator import Emulator


def _serve(conn: Connection, config: dict[str, Any]) -> None:
    with Emulator(**config) as emu:
        conn.send(emu.base_url)
        while True:
            command, argument = conn.recv()
            if command == "stop":
                conn.send(None)
                return
            if command == "configure":
                for name, value in argument.items():
                    setattr(emu.config, name, value)
                emu.reset_stats()
                conn.send(None)
            elif command == "stats":
                stats = emu.stats
                conn.send(
                    {
                        "requests": stats.requests,
                        "max_in_flight": stats.max_in_flight,
                        "in_flight": stats.in_flight,
                        "statuses": dict(stats.statuses),
                        "resets": stats.resets,
                    }
                )


class RemoteEmulator:
    """``with RemoteEmulator(latency=0.15) as emu:``, then ``configure(...)`` and ``stats()``."""

    def __init__(self, **config: Any) -> None:
        self._config = config
        self._conn: Connection | None = None
        self._process: Any = None
        self.base_url = ""

    def __enter__(self) -> RemoteEmulator:
        ours, theirs = mp.get_context("spawn").Pipe()
        self._process = mp.get_context("spawn").Process(
            target=_serve, args=(theirs, self._config), daemon=True
        )
        self._process.start()
        self._conn = ours
        self.base_url = ours.recv()
        return self

    @property
    def compatible_url(self) -> str:
        return self.base_url.replace("/api/v1", "/compatible-mode/v1")

    def _ask(self, command: str, argument: Any = None) -> Any:
        assert self._conn is not None
        self._conn.send((command, argument))
        return self._conn.recv()

    def configure(self, **fields: Any) -> None:
        """Set config fields and clear the counters (and the rate window)."""
        self._ask("configure", fields)

    def stats(self) -> dict[str, Any]:
        return self._ask("stats")  # type: ignore[no-any-return]

    def __exit__(self, *exc: object) -> None:
        self._ask("stop")
        self._process.join(10)
