"""Shared fixtures: one emulator per test session, a clean slate per test."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dashscope_embeddings.emulator import Emulator

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
DATA = EXAMPLES / "data"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's own DashScope settings must never reach a test."""
    for name in list(os.environ):
        if name.startswith("DASHSCOPE_"):
            monkeypatch.delenv(name)


@pytest.fixture(scope="session")
def emulator_session() -> Iterator[Emulator]:
    with Emulator() as emulator:
        yield emulator


def _quiesce(emulator: Emulator, timeout: float = 10.0) -> None:
    """Wait until nothing is in flight and no request has arrived for a moment.

    A request still running when a test ends would otherwise land in the next
    test and consume its injected faults or counts.
    """
    deadline = time.monotonic() + timeout
    seen = -1
    while time.monotonic() < deadline:
        now = emulator.stats.requests
        if emulator.stats.in_flight == 0 and now == seen:
            return
        seen = now
        time.sleep(0.02)
    pytest.fail(
        f"requests still reaching the emulator {timeout:g} s after the test: {emulator.stats}"
    )


@pytest.fixture
def emu(emulator_session: Emulator) -> Iterator[Emulator]:
    """The session emulator with no stats, records, pending faults or config changes.

    Teardown fails the test that leaves requests running behind it.
    """
    emulator_session.reset()
    yield emulator_session
    _quiesce(emulator_session)
    emulator_session.reset()


@pytest.fixture
def emulator_options(emu: Emulator) -> dict[str, Any]:
    """Options that point either adapter at the emulator."""
    return {"base_url": emu.base_url, "api_key": "test-key"}


@pytest.fixture
def data_dir() -> Path:
    return DATA
