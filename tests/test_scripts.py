"""The demo, the benchmark and the import boundaries, run the way users run them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _run(*args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DASHSCOPE_")}
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_demo_runs_end_to_end_on_the_emulator() -> None:
    done = _run("examples/demo.py")
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    assert "bundled emulator" in out
    assert "LangChain" in out
    assert "LlamaIndex" in out
    # the colour-aware stand-in vectors put the red image first for a red query
    assert "'a red apple'      -> red_apple.png" in out
    assert "requests in" in out


def test_benchmark_smoke() -> None:
    done = _run("benchmarks/run.py", "--quick", "--latency", "0.01")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "ours langchain sync" in done.stdout
    assert "x bound" in done.stdout


def test_core_imports_no_framework() -> None:
    code = (
        "import sys, dashscope_embeddings, dashscope_embeddings.emulator;"
        "bad = [m for m in sys.modules if m.split('.')[0] in "
        "('langchain_core', 'llama_index', 'langchain')];"
        "assert not bad, bad"
    )
    done = _run("-c", code)
    assert done.returncode == 0, done.stderr
