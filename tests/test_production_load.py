"""Ingestion at the account's limits: faults, rate limits, partial results, stopping, one cap."""

from __future__ import annotations

import _thread
import asyncio
import dataclasses
import pickle
import signal
import threading
import time
from types import FrameType
from typing import Any

import pytest

from dashscope_embeddings import (
    AuthenticationError,
    BadRequestError,
    DashScopeClient,
    ServerError,
    create_client,
)
from dashscope_embeddings.emulator import Emulator

TEXTS = [f"passage {i}: {'lorem ipsum ' * (i % 7)}" for i in range(1000)]


@pytest.fixture(scope="module")
def expected() -> list[list[float]]:
    with Emulator() as clean:
        return _client(clean).embed_texts(TEXTS).embeddings


def _client(emu: Emulator, **options: Any) -> DashScopeClient:
    return create_client("text-embedding-v4", base_url=emu.base_url, api_key="k", **options)


def _settle(emu: Emulator) -> int:
    """Requests seen once nothing is in flight (answers still being written finish)."""
    deadline = time.monotonic() + 5
    while emu.stats.in_flight and time.monotonic() < deadline:
        time.sleep(0.01)
    return emu.stats.requests


@pytest.mark.parametrize("seed", range(5))
async def test_soak_20_percent_transient_faults_lose_nothing(
    seed: int, expected: list[list[float]]
) -> None:
    # 500/503, connection resets and answers slower than the timeout: 20% in all.
    with Emulator(
        seed=seed, error_rate=0.1, reset_rate=0.05, slow_rate=0.05, slow_seconds=1.0
    ) as emu:
        client = _client(emu, timeout=0.4)  # default max_concurrency and max_retries
        if seed % 2:
            result = await client.aembed_texts(TEXTS)
        else:
            result = await asyncio.to_thread(client.embed_texts, TEXTS)
        assert result.embeddings == expected
        assert emu.stats.requests > 100  # faults really happened and were retried


def test_paced_to_a_small_rate_limit_without_a_single_error(expected: list[list[float]]) -> None:
    with Emulator(rpm=600) as emu:
        client = _client(emu, requests_per_minute=600, max_concurrency=32)
        start = time.monotonic()
        vectors = client.embed_texts(TEXTS[:300]).embeddings
        elapsed = time.monotonic() - start
        assert vectors == expected[:300]
        assert emu.stats.requests == 30  # no 429 and no retry
        assert elapsed >= 29 / 10 * 0.9  # 10 requests/s, evenly spread


async def test_an_unconfigured_quota_is_learned_from_the_first_429s(
    expected: list[list[float]],
) -> None:
    # 10 requests/s, no requests_per_minute. Halving a cap on every overshoot
    # (a whole-second Retry-After each) took 39 429s here; learning the rate, 13.
    with Emulator(rpm=600, rpm_window=1.0, latency=0.05) as emu:
        client = _client(emu, max_concurrency=16)
        assert (await client.aembed_texts(TEXTS[:600])).embeddings == expected[:600]
        _settle(emu)
        assert emu.stats.statuses.get(429, 0) <= 25


def test_429s_slow_all_traffic_and_never_fail_a_progressing_job(
    expected: list[list[float]],
) -> None:
    with Emulator(latency=0.02) as emu:
        # 12 429s for 40 requests allowed one retry each: some get more 429s
        # than their retries, and keep trying because others succeed.
        emu.inject(status=429, times=12, retry_after=0)
        client = _client(emu, max_concurrency=8, max_retries=1)
        start = time.monotonic()
        assert client.embed_texts(TEXTS[:400]).embeddings == expected[:400]
        assert _settle(emu) == 40 + 12
        # A burst in which nothing got through tells no rate: the job must not
        # go on at "one request a second" (it took 43 s so), nor the next call.
        client.embed_texts(TEXTS[400:800])
        assert time.monotonic() - start < 10


@pytest.mark.parametrize("sync", [True, False])
async def test_no_request_is_sent_into_a_retry_after_pause(
    sync: bool, expected: list[list[float]]
) -> None:
    # Paced at twice the quota: requests wait for bookings made ahead at the
    # old rate when the 429 and its Retry-After arrive; they must not go out
    # during the pause.
    with Emulator(rpm=600, rpm_window=1.0) as emu:
        client = _client(emu, requests_per_minute=1200, max_concurrency=16)
        if sync:
            result = await asyncio.to_thread(client.embed_texts, TEXTS[:200])
        else:
            result = await client.aembed_texts(TEXTS[:200])
        assert result.embeddings == expected[:200]
        _settle(emu)
        records = emu.requests
        # The emulator answers Retry-After: 1 for a 1 s window.
        pauses = [(r.arrived, r.arrived + 1.0) for r in records if r.status == 429]
        assert pauses
        # 50 ms for a 429's answer to travel and a request already on its way.
        inside = [
            r.arrived - start
            for r in records
            for start, end in pauses
            if start + 0.05 < r.arrived < end - 0.05
        ]
        assert not inside, f"requests sent during a Retry-After pause (s after its 429): {inside}"


def test_a_failed_call_keeps_what_it_paid_for_and_can_resume(
    expected: list[list[float]],
) -> None:
    with Emulator(latency=0.02) as emu:
        client = _client(emu, max_concurrency=2)
        emu.inject(status=200, times=4)
        emu.inject(status=403, code="AccessDenied")
        with pytest.raises(AuthenticationError) as info:
            client.embed_texts(TEXTS[:200])
        error = info.value
        assert error.embeddings is not None
        assert len(error.embeddings) == 200
        kept = [i for i, v in enumerate(error.embeddings) if v is not None]
        assert len(kept) >= 40
        assert error.input_indices == tuple(i for i in range(200) if i not in kept)
        assert all(error.embeddings[i] == expected[i] for i in kept)
        # resume: embed only what is missing, pay for nothing twice
        _settle(emu)
        emu.reset_stats()
        missing = list(error.input_indices)
        again = client.embed_texts([TEXTS[i] for i in missing]).embeddings
        merged = list(error.embeddings)
        for i, vector in zip(missing, again, strict=True):
            merged[i] = vector
        assert merged == expected[:200]
        assert emu.stats.requests == -(-len(missing) // 10)
        # the partial result survives pickling (process pools hand errors back)
        copy = pickle.loads(pickle.dumps(error))
        assert (copy.embeddings, copy.input_indices) == (error.embeddings, error.input_indices)


@pytest.mark.parametrize("sync", [True, False])
async def test_a_400_is_narrowed_to_the_refused_input(sync: bool) -> None:
    texts = [f"t{i}" for i in range(10)]
    texts[7] = "word " * 8000  # over text-embedding-v4's token limit
    with Emulator() as emu:
        client = _client(emu)
        call = asyncio.to_thread(client.embed_texts, texts) if sync else client.aembed_texts(texts)
        with pytest.raises(BadRequestError) as info:
            await call
        error = info.value
        assert error.input_indices == (7,)
        assert "input 7" in str(error)
        assert error.embeddings is not None
        fresh = client.embed_texts(texts[:7] + texts[8:]).embeddings
        assert error.embeddings[:7] + error.embeddings[8:] == fresh
        # [0-9] [0-4]ok [5-9] [5,6]ok [7,8,9] [7]refused [8,9]ok, then the fresh call
        assert _settle(emu) == 7 + 1


@pytest.mark.parametrize("sync", [True, False])
async def test_no_request_starts_after_a_non_retryable_error(sync: bool) -> None:
    with Emulator(latency=0.05) as emu:
        client = _client(emu, max_concurrency=4)
        emu.inject(status=200, times=5)
        emu.inject(status=401, code="InvalidApiKey")
        call = asyncio.to_thread(client.embed_texts, TEXTS) if sync else client.aembed_texts(TEXTS)
        with pytest.raises(AuthenticationError):
            await call
        # the call returned once the requests on the wire answered
        assert emu.stats.in_flight == 0
        seen = emu.stats.requests
        assert seen <= 5 + 1 + 4 + 4  # what ran before, the failure, one wave in flight
        await asyncio.sleep(0.5)
        assert emu.stats.requests == seen  # no thread or task went on


def test_ctrl_c_leaves_no_thread_sending() -> None:
    # Ctrl-C raised inside a weakref or GC callback would be swallowed (and
    # reported as unraisable): press it until it lands where the calling
    # thread waits for its requests, as a user's Ctrl-C does in practice.
    caught = threading.Event()

    def on_sigint(signum: int, frame: FrameType | None) -> None:
        waiting = frame is not None and frame.f_code.co_filename.endswith(
            ("threading.py", "_base.py")
        )
        if waiting and not caught.is_set():
            raise KeyboardInterrupt

    def press() -> None:
        while not caught.wait(0.3):
            _thread.interrupt_main()

    previous = signal.signal(signal.SIGINT, on_sigint)
    presser = threading.Thread(target=press)
    try:
        with Emulator(latency=0.1) as emu:
            client = _client(emu, max_concurrency=8)
            presser.start()
            try:
                client.embed_texts(TEXTS * 3)
            except KeyboardInterrupt:
                caught.set()
            assert caught.is_set()
            seen = _settle(emu)
            time.sleep(0.5)
            assert emu.stats.requests == seen < 300
    finally:
        caught.set()
        if presser.is_alive():
            presser.join()
        signal.signal(signal.SIGINT, previous)


def test_a_service_that_is_down_fails_the_call_after_give_up_after() -> None:
    with Emulator(error_rate=1.0) as emu:
        client = _client(emu, max_retries=1)
        # the 30 s default, shortened for the test through the core config
        impatient = DashScopeClient(dataclasses.replace(client.config, give_up_after=3.0))
        start = time.monotonic()
        with pytest.raises(ServerError) as info:
            impatient.embed_texts(["x"])
        assert time.monotonic() - start < 6
        assert info.value.embeddings == [None]
        assert _settle(emu) > 1 + 1  # it went on past max_retries while within patience


def test_one_cap_across_threads_event_loops_sync_and_async(
    expected: list[list[float]],
) -> None:
    with Emulator(latency=0.05) as emu:
        client = _client(emu, max_concurrency=3)
        results: list[list[list[float]]] = []

        def in_own_loop() -> None:
            results.append(asyncio.run(client.aembed_texts(TEXTS[:100])).embeddings)

        threads = [threading.Thread(target=in_own_loop) for _ in range(3)]
        for thread in threads:
            thread.start()
        results.append(client.embed_texts(TEXTS[:100]).embeddings)
        for thread in threads:
            thread.join()
        assert results == [expected[:100]] * 4
        assert emu.stats.requests == 40
        assert emu.stats.max_in_flight == 3
