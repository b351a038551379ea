"""The emulator as an ``httpx`` transport: the service's answers without sockets.

Like ``httpx.MockTransport``, but answering as the emulated service does
(validation, vectors, usage, error bodies, scripted and random status faults
and resets). Nothing waits: latency, jitter, slow answers and scripted delays
are ignored, so a test runs without threads or timing. Use the socket
``Emulator`` for what needs a wire: timeouts, slow bodies, real concurrency.

::

    transport = EmulatorTransport()
    client = create_client(
        "text-embedding-v4",
        api_key="test",
        http_client=httpx.Client(transport=transport),
        http_async_client=httpx.AsyncClient(transport=transport),
    )

Any host works (the default region's https URL included): only the path is
routed.
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import httpx
import orjson

from .._wire import json_or_none
from ._config import EmulatorConfig
from ._faults import Fault, FaultPlan
from ._replies import Reply
from ._service import Service
from ._state import RecordedRequest, Recorder, Stats

__all__ = ["EmulatorTransport"]


class EmulatorTransport(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """An httpx transport (sync and async) answered by the emulated service."""

    def __init__(self, config: EmulatorConfig | None = None, **overrides: Any) -> None:
        config = config or EmulatorConfig()
        if overrides:
            config = dataclasses.replace(config, **overrides)
        self.config = config
        self._service = Service(config)
        self._faults = FaultPlan(config)
        self._recorder = Recorder(config.max_records)
        self.stats = Stats()
        """Counters as on the socket emulator (``max_in_flight`` counts concurrent calls)."""

    def inject(self, status: int | None = None, *, times: int = 1, **fault: Any) -> None:
        """Script the next ``times`` requests: the arguments of ``Emulator.inject``.

        A ``delay`` is accepted and ignored, as is all waiting here.
        """
        self._faults.inject(Fault(status=status, **fault), times)

    @property
    def requests(self) -> list[RecordedRequest]:
        """Recorded requests, oldest first."""
        return self._recorder.snapshot()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return self._answer(request, request.read())

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        # Decoding inline images is CPU work: keep it off the caller's loop.
        return await asyncio.to_thread(self._answer, request, await request.aread())

    def _answer(self, request: httpx.Request, body: bytes) -> httpx.Response:
        headers = {name.lower(): value for name, value in request.headers.items()}
        record = self._recorder.open(request.method, request.url.raw_path.decode("ascii"), headers)
        self.stats.started()
        status: int | None = None
        try:
            record.body = json_or_none(body)
            decision = self._faults.decide()
            if decision.reset:
                record.fault, record.outcome = decision.fault, "reset"
                self.stats.finished(None, reset=True)
                raise httpx.ReadError("connection reset by the emulator", request=request)
            reply = decision.reply or self._service.respond(
                record.method, record.path, record.headers, record.body
            )
            status = reply.status
            record.settle(reply.status, reply.request_id, decision.fault)
            return _response(reply, request)
        finally:
            if record.outcome != "reset":
                self.stats.finished(status)


def _response(reply: Reply, request: httpx.Request) -> httpx.Response:
    return httpx.Response(
        reply.status,
        headers=[
            ("content-type", "application/json"),
            ("x-request-id", reply.request_id),
            *reply.headers,
        ],
        content=orjson.dumps(reply.body),
        request=request,
    )
