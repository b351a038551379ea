"""A pytest plugin: the bundled emulator as fixtures, for your own test suite.

Opt in from your ``conftest.py`` (it is never loaded automatically)::

    pytest_plugins = ["dashscope_embeddings.testing"]

Fixtures:

``dashscope_emulator``
    A running :class:`~dashscope_embeddings.emulator.Emulator`. One server
    serves the whole session (starting one per test would be slow); it is
    reset before and after each test, so no fault, record, statistic or
    configuration change leaks from one test to the next.
``dashscope_env``
    The same emulator, with ``DASHSCOPE_BASE_URL`` and ``DASHSCOPE_API_KEY``
    pointing at it for the test's duration: code that reads its settings from
    the environment (``DashScopeEmbeddings()``, ``DashScopeEmbedding()``,
    ``create_client(...)``) talks to the emulator without a change.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .emulator import Emulator

__all__ = ["dashscope_emulator", "dashscope_env"]

API_KEY = "dashscope-emulator-key"
"""The key ``dashscope_env`` sets; the emulator accepts any key."""


@pytest.fixture(scope="session")
def _dashscope_emulator_server() -> Iterator[Emulator]:
    with Emulator() as emulator:
        yield emulator


@pytest.fixture
def dashscope_emulator(_dashscope_emulator_server: Emulator) -> Iterator[Emulator]:
    """The session's emulator, reset before and after the test."""
    _dashscope_emulator_server.reset()
    yield _dashscope_emulator_server
    _dashscope_emulator_server.reset()


@pytest.fixture
def dashscope_env(dashscope_emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> Emulator:
    """``dashscope_emulator``, with ``DASHSCOPE_BASE_URL`` / ``DASHSCOPE_API_KEY`` set to it."""
    monkeypatch.setenv("DASHSCOPE_BASE_URL", dashscope_emulator.base_url)
    monkeypatch.setenv("DASHSCOPE_API_KEY", API_KEY)
    return dashscope_emulator
