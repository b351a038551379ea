"""Speed, fault tolerance and memory, measured in one run against the emulator.

For each contender we embed the same texts through the same emulator (fixed
latency per request) and report:

- time, and its ratio to the *bound*: ceil(requests / max_concurrency) x latency,
  the least any client with that concurrency can take;
- the ratio to our own sync time (how much slower the alternatives are);
- with faults injected (a share of 500/503 answers): whether every input got a
  vector, and how many requests it took (retrying only failed batches keeps
  this close to the fault-free count);
- peak Python memory (tracemalloc) relative to the size of the returned vectors.

Usage: ``python benchmarks/run.py [--n 1000] [--latency 0.15] [--quick]``.
The other libraries (``langchain-community``, ``llama-index-embeddings-dashscope``)
are measured when installed (``make bench`` installs them).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import sys
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from dashscope_embeddings.emulator import Emulator

MODEL = "text-embedding-v4"
BATCH = 10  # text-embedding-v4's per-request limit
CONCURRENCY = 8
RESULTS = Path(__file__).parent / "results"


@dataclass
class Row:
    contender: str
    scenario: str
    seconds: float
    requests: int
    vectors: int
    complete: bool
    note: str = ""
    bound_ratio: float | None = None
    vs_ours: float | None = None


def _texts(n: int) -> list[str]:
    return [f"passage {i}: the {('red', 'blue', 'green')[i % 3]} item number {i}" for i in range(n)]


def _ours_langchain(base_url: str, **kw: Any) -> Any:
    from dashscope_embeddings.langchain import DashScopeEmbeddings

    return DashScopeEmbeddings(
        model=MODEL, base_url=base_url, api_key="bench", max_concurrency=CONCURRENCY, **kw
    )


def _ours_llama_index(base_url: str) -> Any:
    from dashscope_embeddings.llama_index import DashScopeEmbedding

    return DashScopeEmbedding(
        model_name=MODEL, base_url=base_url, api_key="bench", max_concurrency=CONCURRENCY
    )


def contenders(base_url: str) -> dict[str, Callable[[list[str]], list[Any]]]:
    ours_lc = _ours_langchain(base_url)
    ours_li = _ours_llama_index(base_url)
    found: dict[str, Callable[[list[str]], list[Any]]] = {
        "ours langchain sync": ours_lc.embed_documents,
        "ours langchain async": lambda t: asyncio.run(ours_lc.aembed_documents(t)),
        "ours llama-index sync": ours_li.get_text_embedding_batch,
        "ours llama-index async": lambda t: asyncio.run(ours_li.aget_text_embedding_batch(t)),
    }
    try:
        import dashscope
        from langchain_community.embeddings import DashScopeEmbeddings as CommunityEmbeddings
    except ImportError:
        print("langchain-community not installed: skipped", file=sys.stderr)
    else:
        dashscope.base_http_api_url = base_url
        community = CommunityEmbeddings(model=MODEL, dashscope_api_key="bench")
        found["langchain-community sync"] = community.embed_documents
        found["langchain-community async"] = lambda t: asyncio.run(community.aembed_documents(t))
    try:
        import dashscope
        from llama_index.embeddings.dashscope import DashScopeEmbedding as LlamaDashScope
    except ImportError:
        print("llama-index-embeddings-dashscope not installed: skipped", file=sys.stderr)
    else:
        dashscope.base_http_api_url = base_url
        llama = LlamaDashScope(model_name=MODEL, api_key="bench")
        found["llama-index-embeddings-dashscope sync"] = llama.get_text_embedding_batch
    return found


def measure(
    name: str,
    scenario: str,
    call: Callable[[list[str]], list[Any]],
    texts: list[str],
    emu: Emulator,
) -> Row:
    emu.reset_stats()
    start = time.perf_counter()
    note = ""
    try:
        vectors = call(texts)
    except Exception as exc:  # a contender failing is a result, not a crash
        first_line = str(exc).strip().splitlines()[0][:70] if str(exc).strip() else ""
        vectors, note = [], f"raised {type(exc).__name__}: {first_line}"
    seconds = time.perf_counter() - start
    good = [v for v in vectors if isinstance(v, list) and v]
    complete = len(vectors) == len(texts) and len(good) == len(texts)
    if not note and not complete:
        note = f"returned {len(vectors)} results, {len(good)} usable, for {len(texts)} inputs"
    return Row(name, scenario, seconds, emu.stats.requests, len(good), complete, note)


def peak_memory(base_url: str, texts: list[str]) -> dict[str, float]:
    emb = _ours_langchain(base_url, dimension=1024)
    emb.embed_documents(texts[:20])  # warm up imports and the connection pool
    tracemalloc.start()
    vectors = emb.embed_documents(texts)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    # size of the result itself: float objects + list slots + list headers
    result = len(vectors) * (len(vectors[0]) * (24 + 8) + 56)
    return {"peak_mb": peak / 2**20, "result_mb": result / 2**20, "peak_over_result": peak / result}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.15)
    parser.add_argument("--error-rate", type=float, default=0.05)
    parser.add_argument("--quick", action="store_true", help="ours only, small n (smoke test)")
    args = parser.parse_args()
    n = 60 if args.quick else args.n
    texts = _texts(n)
    bound = math.ceil(math.ceil(n / BATCH) / CONCURRENCY) * args.latency
    rows: list[Row] = []
    with Emulator(latency=args.latency, seed=7) as emu:
        found = contenders(emu.base_url)
        if args.quick:
            found = {k: v for k, v in found.items() if k.startswith("ours")}
        for name, call in found.items():
            rows.append(measure(name, "clean", call, texts, emu))
        emu.config.error_rate = args.error_rate
        for name, call in found.items():
            if "async" not in name:
                rows.append(measure(name, f"{args.error_rate:.0%} 5xx", call, texts, emu))
        emu.config.error_rate = 0.0
        memory = peak_memory(emu.base_url, texts)
    ours = {r.scenario: r.seconds for r in rows if r.contender == "ours langchain sync"}
    for row in rows:
        row.bound_ratio = round(row.seconds / bound, 2)
        row.vs_ours = round(row.seconds / ours[row.scenario], 2)
    print(
        f"\n{n} texts, {MODEL}, latency {args.latency}s, bound {bound:.2f}s "
        f"(ceil({math.ceil(n / BATCH)} requests / {CONCURRENCY}) x latency)\n"
    )
    print(
        f"{'contender':40} {'scenario':9} {'seconds':>8} {'x bound':>8} {'x ours':>7} "
        f"{'requests':>8} {'vectors':>8}  note"
    )
    for r in rows:
        print(
            f"{r.contender:40} {r.scenario:9} {r.seconds:8.2f} {r.bound_ratio:8.2f} "
            f"{r.vs_ours:7.2f} {r.requests:8d} {r.vectors:8d}  {r.note}"
        )
    print(
        f"\nmemory (ours, {n} x 1024 floats): peak {memory['peak_mb']:.1f} MB for a "
        f"{memory['result_mb']:.1f} MB result = {memory['peak_over_result']:.2f}x"
    )
    if not args.quick:
        RESULTS.mkdir(exist_ok=True)
        out = RESULTS / "latest.json"
        payload = {
            "n": n,
            "latency": args.latency,
            "bound_seconds": bound,
            "rows": [asdict(r) for r in rows],
            "memory": memory,
        }
        out.write_text(json.dumps(payload, indent=2) + "\n")
        print(f"written to {out}")
    failed = [r for r in rows if r.contender.startswith("ours") and not r.complete]
    if failed:
        raise SystemExit(f"our adapters lost vectors: {[r.contender for r in failed]}")


if __name__ == "__main__":
    main()
