"""``pytest_plugins = ["dashscope_embeddings.testing"]`` in a user's own suite."""

from __future__ import annotations

from pathlib import Path

import dashscope_embeddings
from _scripts import run_script

CONFTEST = 'pytest_plugins = ["dashscope_embeddings.testing"]\n'

USER_TESTS = """
import os

import pytest

from dashscope_embeddings import RateLimitError
from dashscope_embeddings.langchain import DashScopeEmbeddings


def test_env_points_at_the_emulator(dashscope_env):
    assert os.environ["DASHSCOPE_BASE_URL"] == dashscope_env.base_url
    emb = DashScopeEmbeddings(model="text-embedding-v4", max_retries=0)
    assert len(emb.embed_query("hello")) == 1024
    assert dashscope_env.stats.requests == 1


def test_a_fault_is_scripted(dashscope_emulator):
    dashscope_emulator.inject(status=429, times=5)
    emb = DashScopeEmbeddings(base_url=dashscope_emulator.base_url, api_key="k", max_retries=0)
    with pytest.raises(RateLimitError):
        emb.embed_query("x")


def test_nothing_leaks_from_the_previous_test(dashscope_emulator):
    # Same server (session scope), clean slate (reset per test).
    assert dashscope_emulator.stats.requests == 0
    emb = DashScopeEmbeddings(base_url=dashscope_emulator.base_url, api_key="k", max_retries=0)
    emb.embed_query("x")


def test_the_environment_is_restored():
    assert "DASHSCOPE_BASE_URL" not in os.environ
"""


def test_plugin_gives_both_fixtures_in_a_user_suite(tmp_path: Path) -> None:
    (tmp_path / "conftest.py").write_text(CONFTEST)
    (tmp_path / "test_user.py").write_text(USER_TESTS)
    # The package under test, wherever it is imported from here.
    package = str(Path(dashscope_embeddings.__file__).parent.parent)
    done = run_script(
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        timeout=180,
        cwd=tmp_path,
        env={"PYTHONPATH": package},
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "4 passed" in done.stdout


def test_the_plugin_is_opt_in() -> None:
    # Not registered as a pytest11 entry point: installing the package adds no fixtures.
    from importlib.metadata import entry_points

    assert not [ep for ep in entry_points(group="pytest11") if "dashscope" in ep.value]
