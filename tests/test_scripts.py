"""The demo, the benchmark and the import boundaries, run the way users run them."""

from __future__ import annotations

from _scripts import run_script


def test_demo_runs_end_to_end_on_the_emulator() -> None:
    done = run_script("examples/demo.py")
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    assert "bundled emulator" in out
    assert "LangChain" in out
    assert "LlamaIndex" in out
    # the colour-aware stand-in vectors put the red image first for a red query
    assert "'a red apple'      -> red_apple.png" in out
    assert "requests in" in out


def test_benchmark_smoke() -> None:
    done = run_script("benchmarks/run.py", "--quick", "--latency", "0.01")
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
    done = run_script("-c", code)
    assert done.returncode == 0, done.stderr
