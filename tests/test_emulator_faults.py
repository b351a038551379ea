"""Faults, concurrency, statistics, lifecycle and HTTP robustness of the emulator."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import orjson
import pytest

from dashscope_embeddings._catalog import Endpoint
from dashscope_embeddings.emulator import Emulator, EmulatorConfig
from dashscope_embeddings.emulator._config import EmulatorConfig as Config
from dashscope_embeddings.emulator._faults import FaultPlan
from dashscope_embeddings.emulator._service import Service

MM = Endpoint.MULTIMODAL.path
KEY = {"Authorization": "Bearer test-key"}
BODY = {
    "model": "qwen3-vl-embedding",
    "input": {"contents": ["hello"]},
    "parameters": {"dimension": 256},
}


def call(emu: Emulator, client: httpx.Client | None = None, **kw: Any) -> httpx.Response:
    if client is not None:
        return client.post(emu.base_url + MM, json=BODY, headers=KEY, **kw)
    return httpx.post(emu.base_url + MM, json=BODY, headers=KEY, **kw)


@pytest.fixture
def fresh() -> Iterator[Emulator]:
    with Emulator() as emulator:
        yield emulator


# -- scripted faults -----------------------------------------------------------------------------


def test_injected_statuses_come_first_in_order_then_normal_answers(emu: Emulator) -> None:
    emu.inject(status=503, times=2)
    emu.inject(status=500, code="InternalError.Custom", message="boom")
    emu.inject(status=429, retry_after=3)
    answers = [call(emu) for _ in range(5)]
    assert [r.status_code for r in answers] == [503, 503, 500, 429, 200]
    assert [r.json().get("code") for r in answers[:4]] == [
        "ServiceUnavailable",
        "ServiceUnavailable",
        "InternalError.Custom",
        "Throttling.RateQuota",
    ]
    assert answers[2].json()["message"] == "boom"
    assert answers[3].headers["retry-after"] == "3"
    assert "retry-after" not in answers[0].headers
    for response in answers[:4]:
        error = response.json()
        assert set(error) == {"code", "message", "request_id"}
        assert error["request_id"] == response.headers["x-request-id"]
    assert [r.status for r in emu.requests] == [503, 503, 500, 429, 200]
    assert [r.fault for r in emu.requests] == ["injected"] * 4 + [None]
    assert emu.pending_faults == 0


def test_an_injected_2xx_lets_the_request_through(emu: Emulator) -> None:
    emu.inject(status=200)
    emu.inject(status=400, code="InvalidParameter")
    first, second = call(emu), call(emu)
    assert first.status_code == 200
    assert first.json()["output"]["embeddings"]
    assert (second.status_code, second.json()["code"]) == (400, "InvalidParameter")


def test_injected_reset_drops_the_connection_without_an_answer(emu: Emulator) -> None:
    emu.inject(reset=True)
    with pytest.raises(httpx.TransportError):
        call(emu)
    assert call(emu).status_code == 200  # the server goes on
    reset, answered = emu.requests
    assert (reset.status, reset.outcome, reset.fault) == (None, "reset", "injected")
    assert reset.body == BODY
    assert answered.status == 200
    assert emu.stats.requests == 2
    assert emu.stats.resets == 1
    assert emu.stats.statuses == {200: 1}


def test_injected_delay_trips_a_client_timeout_then_answers_normally(emu: Emulator) -> None:
    emu.inject(delay=1.0)
    started = time.monotonic()
    with pytest.raises(httpx.ReadTimeout):
        call(emu, timeout=0.2)
    assert time.monotonic() - started < 0.9
    started = time.monotonic()
    assert call(emu).status_code == 200
    assert time.monotonic() - started < 0.5


def test_delay_combines_with_a_status(emu: Emulator) -> None:
    emu.inject(status=503, delay=0.3)
    started = time.monotonic()
    assert call(emu).status_code == 503
    assert time.monotonic() - started >= 0.3


def test_scripted_faults_win_over_random_ones() -> None:
    with Emulator(error_rate=1.0) as emu:
        emu.inject(delay=0.01)
        assert call(emu).status_code == 200
        assert call(emu).status_code in (500, 503)


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"status": 200, "reset": True}, {"status": 42}, {"delay": -1.0, "status": 500}],
)
def test_meaningless_injections_are_refused(emu: Emulator, kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        emu.inject(**kwargs)
    with pytest.raises(ValueError):
        emu.inject(status=500, times=0)
    assert emu.pending_faults == 0


# -- configured faults -------------------------------------------------------------------------


def test_rpm_answers_429_with_retry_after_when_the_window_is_full() -> None:
    with Emulator(rpm=3) as emu, httpx.Client() as client:
        statuses = [call(emu, client).status_code for _ in range(3)]
        throttled = call(emu, client)
    assert statuses == [200, 200, 200]
    assert throttled.status_code == 429
    assert throttled.json()["code"] == "Throttling.RateQuota"
    assert throttled.json()["message"] == "Requests rate limit exceeded, please try again later."
    assert 1 <= int(throttled.headers["retry-after"]) <= 60


def test_the_rate_window_slides() -> None:
    now = [1000.0]
    plan = FaultPlan(Config(rpm=2), clock=lambda: now[0])
    assert plan.decide().reply is None
    now[0] += 30
    assert plan.decide().reply is None
    now[0] += 0.5
    throttled = plan.decide().reply
    assert throttled is not None
    assert throttled.status == 429
    assert dict(throttled.headers)["retry-after"] == "30"  # the first slot frees at t=1060
    now[0] = 1059.9
    assert dict(plan.decide().reply.headers)["retry-after"] == "1"  # type: ignore[union-attr]
    now[0] = 1060.0
    assert plan.decide().reply is None  # a slot freed; throttled requests took none


def test_a_short_rpm_window_makes_a_per_second_quota() -> None:
    now = [1000.0]
    plan = FaultPlan(Config(rpm=600, rpm_window=1.0), clock=lambda: now[0])  # 10 a second
    assert [plan.decide().reply for _ in range(10)] == [None] * 10
    throttled = plan.decide().reply
    assert throttled is not None
    assert throttled.status == 429
    now[0] += 1.0
    assert plan.decide().reply is None  # the window slid by: room again


def test_error_rate_answers_500_and_503_from_a_seeded_rng() -> None:
    def run(seed: int) -> list[tuple[int, str]]:
        with Emulator(error_rate=0.5, seed=seed) as emu, httpx.Client() as client:
            answers = [call(emu, client) for _ in range(30)]
        return [(r.status_code, r.json().get("code", "")) for r in answers]

    first = run(7)
    assert first == run(7)
    assert first != run(8)
    errors = {pair for pair in first if pair[0] != 200}
    assert errors == {(500, "InternalError"), (503, "ServiceUnavailable")}
    assert 5 <= len([p for p in first if p[0] != 200]) <= 25


def test_reset_rate_drops_connections() -> None:
    with Emulator(reset_rate=1.0) as emu:
        for _ in range(3):
            with pytest.raises(httpx.TransportError):
                call(emu)
        assert emu.stats.resets == 3
        assert [r.outcome for r in emu.requests] == ["reset"] * 3


def test_slow_rate_answers_after_slow_seconds() -> None:
    with Emulator(slow_rate=1.0, slow_seconds=0.3) as emu:
        started = time.monotonic()
        assert call(emu).status_code == 200
        assert time.monotonic() - started >= 0.3
        assert emu.requests[0].fault == "slow_rate"


def test_latency_and_jitter_bound_the_answer_time() -> None:
    with Emulator(latency=0.1, jitter=0.1, seed=3) as emu, httpx.Client() as client:
        call(emu, client)  # connect first
        times = []
        for _ in range(4):
            started = time.monotonic()
            call(emu, client)
            times.append(time.monotonic() - started)
    assert all(0.1 <= t < 0.5 for t in times)
    assert max(times) - min(times) > 0.005  # jitter varies


def test_latency_is_the_whole_service_time_not_added_to_the_work(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    slow_work = Service.respond

    def respond(self: Service, *args: Any) -> Any:
        time.sleep(0.4)  # the emulator's own work (JSON, vectors, image decoding)
        return slow_work(self, *args)

    monkeypatch.setattr(Service, "respond", respond)
    with Emulator(latency=0.4) as emu, httpx.Client() as client:
        started = time.monotonic()
        assert call(emu, client).status_code == 200
        elapsed = time.monotonic() - started
    # Done inside the latency: about 0.4 s, where work-then-wait takes 0.8 s.
    assert 0.4 <= elapsed < 0.7


def test_eight_concurrent_requests_overlap() -> None:
    with Emulator(latency=0.2) as emu, ThreadPoolExecutor(8) as pool:
        clients = [httpx.Client() for _ in range(8)]  # made before the clock starts
        started = time.monotonic()
        statuses = list(pool.map(lambda c: call(emu, c).status_code, clients))
        elapsed = time.monotonic() - started
        for client in clients:
            client.close()
        assert statuses == [200] * 8
        assert elapsed < 0.8  # one after the other: 1.6 s
        assert emu.stats.max_in_flight == 8
        assert emu.stats.in_flight == 0


def test_concurrent_async_clients_on_separate_event_loops() -> None:
    async def burst(url: str) -> list[int]:
        async with httpx.AsyncClient() as client:
            answers = await asyncio.gather(
                *(client.post(url, json=BODY, headers=KEY) for _ in range(4))
            )
        return [r.status_code for r in answers]

    with Emulator(latency=0.2) as emu:
        started = time.monotonic()
        with ThreadPoolExecutor(2) as pool:
            results = list(pool.map(lambda _: asyncio.run(burst(emu.base_url + MM)), range(2)))
        assert results == [[200] * 4, [200] * 4]
        assert time.monotonic() - started < 0.8
        assert emu.stats.max_in_flight == 8


def test_config_changes_apply_to_the_next_request_and_reset_restores_them(fresh: Emulator) -> None:
    fresh.config.latency = 0.3
    started = time.monotonic()
    call(fresh)
    assert time.monotonic() - started >= 0.3
    fresh.config.api_key = "only-this"
    assert call(fresh).status_code == 401
    with pytest.raises(ValueError):
        fresh.config.error_rate = 2.0
    fresh.reset()
    assert fresh.config == EmulatorConfig()
    assert call(fresh).status_code == 200
    assert fresh.stats.requests == 1


# -- statistics and records ------------------------------------------------------------------


def test_stats_count_every_request_on_every_path(emu: Emulator) -> None:
    base = emu.base_url
    httpx.post(base + MM, json=BODY, headers=KEY)
    httpx.post(base + MM, json=BODY)  # 401
    httpx.post(base + "/nowhere", json=BODY, headers=KEY)  # 404
    httpx.post(base + MM, json={"model": "nope"}, headers=KEY)  # 400
    assert emu.stats.requests == 4
    assert emu.stats.statuses == {200: 1, 401: 1, 404: 1, 400: 1}
    assert [r.status for r in emu.requests] == [200, 401, 404, 400]


def test_reset_stats_clears_counters_records_and_pending_faults(emu: Emulator) -> None:
    call(emu)
    emu.inject(status=500, times=3)
    emu.reset_stats()
    assert (emu.stats.requests, emu.stats.max_in_flight, emu.requests, emu.pending_faults) == (
        0,
        0,
        [],
        0,
    )
    assert call(emu).status_code == 200


def test_many_threads_at_once_are_all_counted_and_recorded(emu: Emulator) -> None:
    def work(i: int) -> list[int]:
        with httpx.Client() as client:
            if i % 2:
                emu.inject(status=503)
            return [call(emu, client).status_code for _ in range(5)]

    with ThreadPoolExecutor(8) as pool:
        statuses = [s for batch in pool.map(work, range(8)) for s in batch]
    assert len(statuses) == 40
    assert statuses.count(503) == 4
    assert emu.stats.requests == 40
    assert len(emu.requests) == 40
    assert emu.stats.statuses == {200: 36, 503: 4}


def test_old_records_are_dropped_beyond_max_records() -> None:
    with Emulator(max_records=3) as emu, httpx.Client() as client:
        for _ in range(5):
            call(emu, client)
        assert emu.stats.requests == 5
        assert len(emu.requests) == 3


# -- HTTP robustness -------------------------------------------------------------------------


def raw(emu: Emulator, payload: bytes, read: bool = True) -> bytes:
    with socket.create_connection(("127.0.0.1", emu.port), timeout=5) as sock:
        sock.sendall(payload)
        if not read:
            return b""
        chunks = []
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)


def request_bytes(body: bytes, *, close: bool) -> bytes:
    head = (
        f"POST /api/v1{MM} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer k\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    )
    if close:
        head += "Connection: close\r\n"
    return head.encode() + b"\r\n" + body


def test_bad_http_gets_a_400_and_the_server_survives(emu: Emulator) -> None:
    answer = raw(emu, b"THIS IS NOT HTTP\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 400")
    assert orjson.loads(answer.split(b"\r\n\r\n", 1)[1])["code"] == "BadRequest"
    assert call(emu).status_code == 200


def test_a_client_leaving_mid_body_does_not_hurt_the_server(emu: Emulator) -> None:
    raw(emu, request_bytes(orjson.dumps(BODY), close=True)[:-10], read=False)
    deadline = time.monotonic() + 5
    while (not emu.stats.requests or emu.stats.in_flight) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert emu.requests[0].outcome == "client_disconnected"
    assert emu.stats.in_flight == 0
    assert call(emu).status_code == 200


def test_a_client_leaving_during_the_latency_does_not_hurt_the_server() -> None:
    with Emulator(latency=0.3) as emu:
        with pytest.raises(httpx.ReadTimeout):
            call(emu, timeout=0.05)
        time.sleep(0.4)
        assert emu.stats.in_flight == 0
        assert call(emu).status_code == 200


def test_keep_alive_serves_several_requests_on_one_connection(emu: Emulator) -> None:
    body = orjson.dumps(BODY)
    answer = raw(emu, request_bytes(body, close=False) + request_bytes(body, close=True))
    assert answer.count(b"HTTP/1.1 200 OK") == 2
    assert emu.stats.requests == 2


def test_chunked_request_bodies_are_read(emu: Emulator) -> None:
    def chunks() -> Iterator[bytes]:
        data = orjson.dumps(BODY)
        yield data[:10]
        yield data[10:]

    response = httpx.post(
        emu.base_url + MM, content=chunks(), headers={**KEY, "Content-Type": "application/json"}
    )
    assert response.status_code == 200
    assert emu.requests[0].headers["transfer-encoding"] == "chunked"


def test_oversized_bodies_get_413() -> None:
    with Emulator(max_body_bytes=1000) as emu:
        big = {**BODY, "input": {"contents": ["x" * 2000]}}
        response = httpx.post(emu.base_url + MM, json=big, headers=KEY)
        assert response.status_code == 413
        assert call(emu).status_code == 200


# -- lifecycle -------------------------------------------------------------------------------


def test_lifecycle_without_with() -> None:
    emu = Emulator(latency=0.0, port=0)
    with pytest.raises(RuntimeError):
        _ = emu.base_url
    emu.start()
    try:
        assert emu.base_url == f"http://127.0.0.1:{emu.port}/api/v1"
        with pytest.raises(RuntimeError):
            emu.start()
        assert call(emu).status_code == 200
    finally:
        emu.stop()
    emu.stop()  # twice is fine
    with pytest.raises(RuntimeError):
        _ = emu.base_url
    with emu:  # and again
        assert call(emu).status_code == 200


def test_a_chosen_port_and_a_taken_port() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with Emulator(port=port) as emu:
        assert emu.base_url == f"http://127.0.0.1:{port}/api/v1"
        with pytest.raises(OSError):
            Emulator(port=port).start()


def test_config_object_and_keyword_shortcut() -> None:
    config = EmulatorConfig(latency=0.1, rpm=5, seed=3)
    assert Emulator(config).config is config
    merged = Emulator(config, latency=0.2).config
    assert (merged.latency, merged.rpm, merged.seed) == (0.2, 5, 3)
    assert Emulator(latency=0.1).config.latency == 0.1


@pytest.mark.parametrize(
    "bad",
    [
        {"latency": -1},
        {"jitter": -0.1},
        {"rpm": 0},
        {"rpm": True},
        {"error_rate": 1.5},
        {"reset_rate": -0.1},
        {"slow_rate": "0.5"},
        {"port": 70000},
        {"rpm_window": 0},
    ],
)
def test_bad_config_values_fail_at_construction(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        EmulatorConfig(**bad)


def test_many_emulators_at_once_are_independent() -> None:
    with Emulator() as a, Emulator() as b:
        a.inject(status=500)
        assert call(b).status_code == 200
        assert call(a).status_code == 500
        assert (a.stats.requests, b.stats.requests) == (1, 1)


def test_stop_drops_idle_keep_alive_connections_quickly() -> None:
    emu = Emulator().start()
    with httpx.Client() as client:
        assert call(emu, client).status_code == 200
        started = time.monotonic()
        emu.stop()
        assert time.monotonic() - started < 2
    assert not emu.running


def test_nothing_leaks_between_emulator_threads() -> None:
    names = {t.name for t in threading.enumerate()}
    with Emulator():
        assert "dashscope-emulator" in {t.name for t in threading.enumerate()}
    assert {t.name for t in threading.enumerate()} == names
