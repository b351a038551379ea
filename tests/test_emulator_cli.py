"""The ``dashscope-emulator`` command: starts, prints its URL, serves, stops on SIGTERM."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from dashscope_embeddings._catalog import Endpoint
from dashscope_embeddings.emulator.__main__ import main

BODY = {
    "model": "text-embedding-v4",
    "input": {"texts": ["hello"]},
    "parameters": {"dimension": 64},
}
SECRET = "sk-cli-secret-42"


@pytest.fixture
def process() -> Iterator[subprocess.Popen[str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DASHSCOPE_")}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dashscope_embeddings.emulator",
            "--port",
            "0",
            "--latency",
            "0.01",
            "--rpm",
            "600",
            "--seed",
            "1",
            "--api-key",
            SECRET,
            "--log-level",
            "DEBUG",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=10)


def test_the_cli_serves_until_terminated(process: subprocess.Popen[str]) -> None:
    assert process.stdout is not None
    base_url = process.stdout.readline().strip()
    assert base_url.startswith("http://127.0.0.1:")
    assert base_url.endswith("/api/v1")
    url = base_url + Endpoint.TEXT.path
    answered = httpx.post(url, json=BODY, headers={"Authorization": f"Bearer {SECRET}"})
    assert answered.status_code == 200
    assert len(answered.json()["output"]["embeddings"][0]["embedding"]) == 64
    refused = httpx.post(url, json=BODY, headers={"Authorization": "Bearer wrong"})
    assert refused.status_code == 401
    process.terminate()
    out, err = process.communicate(timeout=10)
    assert process.returncode == 0
    assert SECRET not in out + err  # not printed, not logged
    assert "hello" not in err  # request bodies are never logged
    assert "stopped" in err


def test_the_console_script_is_declared() -> None:
    pyproject = Path(__file__).resolve().parent.parent / "pyproject.toml"
    assert (
        'dashscope-emulator = "dashscope_embeddings.emulator.__main__:main"'
        in pyproject.read_text()
    )


def test_bad_options_exit_with_an_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--error-rate", "3"]) == 2
    assert "error_rate" in capsys.readouterr().err
