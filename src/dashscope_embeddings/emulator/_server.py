"""A small HTTP/1.1 server: asyncio streams carrying ``h11`` events.

Written by hand rather than on a web framework so that faults are ours to
make: a reset really is a TCP reset at the moment we choose, a delay holds
one request without holding the others, and nothing retries or buffers
behind our back. One task per connection, keep-alive, Content-Length or
chunked request bodies. Logs go to ``logging`` only and never carry request
headers or bodies (they hold API keys and user data).
"""

from __future__ import annotations

import asyncio
import contextlib
import http
import logging
import socket
import struct
from collections.abc import Callable

import h11
import orjson

from .._wire import json_or_none
from ._config import EmulatorConfig
from ._faults import Decision, FaultPlan
from ._replies import Reply, error_reply
from ._service import BASE_PATH, Service
from ._state import RecordedRequest, Recorder, Stats

__all__ = ["EmulatorServer", "base_url"]

logger = logging.getLogger("dashscope_embeddings.emulator")

_READ_SIZE = 64 * 1024
_MAX_HEADER_BYTES = 64 * 1024


def base_url(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}{BASE_PATH}"


class _ClientGone(Exception):
    """The client closed or broke the connection; nothing left to answer."""


class _TooLarge(Exception):
    pass


class EmulatorServer:
    """The emulator's listening socket and its state (stats, records, faults)."""

    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self.service = Service(config)
        self.faults = FaultPlan(config)
        self.stats = Stats()
        self.recorder = Recorder(config.max_records)
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self.port: int | None = None

    @property
    def base_url(self) -> str:
        if self.port is None:
            raise RuntimeError("the emulator is not running")
        return base_url(self.config.host, self.port)

    async def start(self) -> str:
        """Bind and listen; returns the base URL."""
        self._server = await asyncio.start_server(
            self._connection, self.config.host, self.config.port, backlog=512
        )
        self.port = int(self._server.sockets[0].getsockname()[1])
        logger.info("DashScope emulator listening on %s", self.base_url)
        return self.base_url

    async def close(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        # Idle keep-alive connections would keep wait_closed() waiting forever.
        for writer in list(self._writers):
            writer.transport.abort()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        await server.wait_closed()
        self.port = None
        logger.info("DashScope emulator stopped")

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._connections.add(task)
        self._writers.add(writer)
        self.stats.connected()
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=_MAX_HEADER_BYTES)
        try:
            while await self._exchange(conn, reader, writer):
                conn.start_next_cycle()
        except (_ClientGone, ConnectionError, OSError, asyncio.IncompleteReadError):
            pass  # the client went away: nothing to answer, nothing to log loudly
        except asyncio.CancelledError:
            pass  # shutting down
        except Exception:  # the server must outlive any one connection
            logger.exception("emulator connection failed")
        finally:
            self._writers.discard(writer)
            if task is not None:
                self._connections.discard(task)
            if not writer.transport.is_closing():
                writer.close()  # graceful: an answer already written still reaches the client

    async def _exchange(
        self, conn: h11.Connection, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        """One request and its answer; whether the connection may carry another."""
        try:
            event = await _next_event(conn, reader)
        except h11.RemoteProtocolError:
            self.stats.started()
            self.stats.finished(400)
            await self._bad_request(conn, writer)
            return False
        if not isinstance(event, h11.Request):  # ConnectionClosed: the client is done
            return False
        self.stats.started()
        record = self.recorder.open(
            event.method.decode("ascii", "replace"),
            event.target.decode("ascii", "replace"),
            _headers(event),
        )
        done = False

        def finish(status: int | None, reset: bool = False) -> None:
            # Called before the answer (or reset) goes out, so a client that
            # has its answer never sees the request still counted in flight.
            nonlocal done
            if not done:
                done = True
                self.stats.finished(status, reset=reset)

        status: int | None = None
        try:
            status = await self._answer(conn, reader, writer, record, finish)
        finally:
            finish(None)  # the client went away before an answer
        return status is not None and conn.our_state is h11.DONE and conn.their_state is h11.DONE

    async def _answer(
        self,
        conn: h11.Connection,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        record: RecordedRequest,
        finish: Callable[[int | None, bool], None],
    ) -> int | None:
        """Read the body, meet the request's fate; the status answered, ``None`` if none."""
        try:
            body = await self._read_body(conn, reader, writer)
        except h11.RemoteProtocolError:
            record.settle(400, None, "bad_http")
            finish(400, False)
            await self._bad_request(conn, writer)
            return 400
        except _TooLarge:
            too_large = error_reply(413, message="Request body too large.")
            record.settle(413, too_large.request_id, "too_large")
            finish(413, False)
            await self._send(conn, writer, too_large, close=True)
            return 413
        except (_ClientGone, ConnectionError, OSError):
            record.outcome = "client_disconnected"
            raise
        loop = asyncio.get_running_loop()
        arrived = loop.time()
        decision = self.faults.decide()
        # The delay is the whole service time from the body's arrival: the
        # answer is computed while it runs, not after it, so ``latency`` means
        # what it says however busy the emulator's own CPU is (a benchmark's
        # bound assumes exactly that).
        answer_at = arrived + decision.delay
        # In a worker thread: parsing a body of inline images (it can be
        # hundreds of megabytes) and decoding them must not stall the other
        # connections' latency timers. One hop for both: a second hop there and
        # back cost more CPU (wake-ups, GIL hand-offs) than answering a text.
        reply = await asyncio.to_thread(self._parsed_reply, record, body, decision)
        left = answer_at - loop.time()
        if left > 0:
            await asyncio.sleep(left)
        if decision.reset or reply is None:
            record.fault = decision.fault
            record.outcome = "reset"
            finish(None, True)
            _abort(writer)
            return None
        record.settle(reply.status, reply.request_id, decision.fault)
        finish(reply.status, False)
        logger.debug(
            "%s %s -> %s%s",
            record.method,
            record.path.split("?", 1)[0],
            reply.status,
            f" ({decision.fault})" if decision.fault else "",
        )
        try:
            await self._send(conn, writer, reply, close=False)
        except (ConnectionError, OSError):
            record.outcome = "client_disconnected"
            raise
        return reply.status

    def _parsed_reply(
        self, record: RecordedRequest, body: bytes, decision: Decision
    ) -> Reply | None:
        """Parse the body into ``record``; the reply, the fault plan's if it has one."""
        record.body = json_or_none(body)
        if decision.reply is not None or decision.reset:
            return decision.reply
        return self.service.respond(record.method, record.path, record.headers, record.body)

    async def _read_body(
        self, conn: h11.Connection, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bytes:
        if conn.client_is_waiting_for_100_continue:
            writer.write(conn.send(h11.InformationalResponse(status_code=100, headers=[])) or b"")
        chunks: list[bytes] = []
        size = 0
        while True:
            event = await _next_event(conn, reader)
            if isinstance(event, h11.Data):
                size += len(event.data)
                if size > self.config.max_body_bytes:
                    raise _TooLarge
                chunks.append(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage):
                return b"".join(chunks)
            else:  # ConnectionClosed mid-body
                raise _ClientGone

    async def _bad_request(self, conn: h11.Connection, writer: asyncio.StreamWriter) -> None:
        reply = error_reply(400, "BadRequest", "Malformed HTTP request.")
        with contextlib.suppress(h11.LocalProtocolError):
            await self._send(conn, writer, reply, close=True)

    @staticmethod
    async def _send(
        conn: h11.Connection, writer: asyncio.StreamWriter, reply: Reply, *, close: bool
    ) -> None:
        data = orjson.dumps(reply.body)
        headers = [
            ("content-type", "application/json"),
            ("content-length", str(len(data))),
            ("x-request-id", reply.request_id),
            *reply.headers,
        ]
        if close:
            headers.append(("connection", "close"))
        try:
            reason = http.HTTPStatus(reply.status).phrase.encode()
        except ValueError:
            reason = b""
        out = conn.send(h11.Response(status_code=reply.status, headers=headers, reason=reason))
        writer.write((out or b"") + (conn.send(h11.Data(data=data)) or b""))
        writer.write(conn.send(h11.EndOfMessage()) or b"")
        await writer.drain()


async def _next_event(conn: h11.Connection, reader: asyncio.StreamReader) -> object:
    peer_closed = False
    while True:
        try:
            event = conn.next_event()
        except h11.RemoteProtocolError:
            if peer_closed:  # a client that hung up mid-request, not a malformed one
                raise _ClientGone from None
            raise
        if event is not h11.NEED_DATA:
            return event
        data = await reader.read(_READ_SIZE)
        peer_closed = not data
        conn.receive_data(data)  # b"" tells h11 the peer closed


def _headers(request: h11.Request) -> dict[str, str]:
    headers: dict[str, str] = {}
    for name, value in request.headers:
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        headers[key] = f"{headers[key]}, {text}" if key in headers else text
    return headers


def _abort(writer: asyncio.StreamWriter) -> None:
    """Close with a TCP RST, not a polite FIN: what a crashed proxy looks like to a client."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()
