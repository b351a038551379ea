"""Soak: 20 runs of 1,000 texts with 20% transient faults; every vector must come back right.

``python benchmarks/soak.py [--runs 20]``. Faults: 10% 500/503, 5% connection
resets, 5% answers slower than the client's timeout. Every option is the
default except ``timeout=2`` (slow answers take 3 s): with the default 60 s
timeout each run would wait a minute for its slow answers. Runs alternate
sync (LangChain) and async (LlamaIndex); each is compared vector by vector
with a fault-free run. Exits non-zero unless every run is complete and right.
"""

from __future__ import annotations

import argparse
import asyncio
import time

from dashscope_embeddings.emulator import Emulator
from dashscope_embeddings.langchain import DashScopeEmbeddings
from dashscope_embeddings.llama_index import DashScopeEmbedding

MODEL = "text-embedding-v4"
TEXTS = [f"passage {i}: {'lorem ipsum ' * (i % 7)}" for i in range(1000)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    with Emulator() as clean:
        expected = DashScopeEmbeddings(
            model=MODEL, base_url=clean.base_url, api_key="k"
        ).embed_documents(TEXTS)
    failures = []
    for run in range(args.runs):
        faults = {"error_rate": 0.1, "reset_rate": 0.05, "slow_rate": 0.05, "slow_seconds": 3.0}
        with Emulator(latency=0.05, seed=1000 + run, **faults) as emu:
            start = time.monotonic()
            try:
                if run % 2:
                    li = DashScopeEmbedding(
                        model_name=MODEL, base_url=emu.base_url, api_key="k", timeout=2
                    )
                    how = "async LlamaIndex"
                    vectors = asyncio.run(li.aget_text_embedding_batch(TEXTS))
                else:
                    lc = DashScopeEmbeddings(
                        model=MODEL, base_url=emu.base_url, api_key="k", timeout=2
                    )
                    how = "sync LangChain"
                    vectors = lc.embed_documents(TEXTS)
                outcome = "ok" if vectors == expected else "WRONG VECTORS"
            except Exception as exc:
                outcome = f"raised {type(exc).__name__}: {exc}"
            seconds = time.monotonic() - start
            statuses = dict(sorted(emu.stats.statuses.items()))
            print(
                f"run {run + 1:2d} {how:16} {seconds:5.1f} s  {emu.stats.requests} requests "
                f"{statuses} resets {emu.stats.resets}  {outcome}",
                flush=True,
            )
            if outcome != "ok":
                failures.append(run + 1)
    print(f"\n{args.runs - len(failures)}/{args.runs} runs complete and right")
    if failures:
        raise SystemExit(f"failed runs: {failures}")


if __name__ == "__main__":
    main()
