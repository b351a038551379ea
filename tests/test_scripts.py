"""The demo, the benchmark and the import boundaries, run the way users run them."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

from _scripts import run_script


def _without_timings(out: str) -> str:
    out = re.sub(r"\d+\.\d+ s", "<t> s", out)
    return re.sub(r"127\.0\.0\.1:\d+", "<host>", out)


def test_demo_runs_end_to_end_on_the_emulator_and_says_the_same_every_time() -> None:
    # Two runs at once: same output but for timings and the port (ties used to
    # come back in random order).
    with ThreadPoolExecutor(2) as pool:
        first, second = pool.map(lambda _: run_script("examples/demo.py"), range(2))
    for done in (first, second):
        assert done.returncode == 0, done.stderr[-3000:]
    out = first.stdout
    assert _without_timings(out) == _without_timings(second.stdout)
    assert "bundled emulator" in out
    assert "LangChain" in out
    assert "LlamaIndex" in out
    # In both sections, "a red apple" finds the red image first and ranks the
    # apple text above the one about the (blue) sea.
    blocks = out.split("text query 'a red apple'\n")[1:]
    assert len(blocks) == 2
    for block in blocks:
        top3 = block.splitlines()[:3]
        assert top3[0].endswith("image  red_apple.png"), top3
        assert "Apples are red" in top3[1], top3
    assert "start-up excluded" in out
    assert re.search(r"\[\d+ requests, \d+\.\d+ s\]", out)


def test_benchmark_smoke() -> None:
    done = run_script("benchmarks/run.py", "--quick", "--latency", "0.01")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "ours LangChain sync" in done.stdout
    assert "1000/1000 vectors" not in done.stdout  # --quick: 100 texts
    assert "100/100 vectors  ok" in done.stdout


def test_core_imports_no_framework() -> None:
    code = (
        "import sys, dashscope_embeddings, dashscope_embeddings.emulator;"
        "bad = [m for m in sys.modules if m.split('.')[0] in "
        "('langchain_core', 'llama_index', 'langchain')];"
        "assert not bad, bad"
    )
    done = run_script("-c", code)
    assert done.returncode == 0, done.stderr
