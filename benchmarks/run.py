"""Speed, rate limits, faults and memory, side by side in one run against the emulator.

``make bench`` (``python benchmarks/run.py``; ``--quick`` for a smoke run of
ours only; ``--only ours --scenario images --concurrency 8`` for a targeted
run that prints its rows and writes nothing but ``results/partial.json``).
The package's ``Emulator`` runs in a child process (see ``remote.py``), so
the CPU time measured here is the client's alone. Writes ``benchmarks/results.md``,
``benchmarks/results/latest.json`` and
``benchmarks/throughput.png``.

Scenarios, 1,000 texts on text-embedding-v4 (100 requests of 10) at 150 ms
latency per request:

- **clean**: wall time against the bound ``ceil(requests / C) × latency``,
  the least any client with ``C`` requests in flight can take;
- **rate limit**: the service allows 10 requests per second (a 1 s sliding
  window: a burst is refused at once); wall time against
  ``requests / limit``, what was raised, how many vectors came back;
- **faults**: 20% of requests fail transiently (10% 500/503, 5% connection
  resets, 5% answered 3 s late); how many vectors came back.

Then our adapters alone at ``max_concurrency`` 8, 16 and 32 (text, the same
three scenarios; and 200 local images of about 100 KB on qwen3-vl-embedding),
with a bare asyncio client (``bare.py``) in the clean and image rows as the
ceiling this machine leaves any client,
the cost of parsing a response against a bare ``orjson.loads`` of the same
bytes, and peak memory against the size of the returned vectors.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import random
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import bare
import contenders
import report
from measure import Row, measure, peak_memory
from remote import RemoteEmulator

HERE = Path(__file__).parent
RATE_PER_SECOND = 10
CLEAN: dict[str, Any] = {"rpm": None, "error_rate": 0.0, "reset_rate": 0.0, "slow_rate": 0.0}
SCENARIOS: dict[str, dict[str, Any]] = {
    "clean": CLEAN,
    "rate limit": {**CLEAN, "rpm": RATE_PER_SECOND * 60, "rpm_window": 1.0},
    "20% faults": {
        **CLEAN,
        "error_rate": 0.10,
        "reset_rate": 0.05,
        "slow_rate": 0.05,
        "slow_seconds": 3.0,
    },
}


def texts(n: int) -> list[str]:
    return [f"passage {i}: the {('red', 'blue', 'green')[i % 3]} item number {i}" for i in range(n)]


def images(n: int, folder: Path) -> list[str]:
    """``n`` PNG files of about 100 KB (noise does not compress)."""
    from PIL import Image

    rng = random.Random(7)
    paths = []
    for i in range(n):
        path = folder / f"image-{i}.png"
        Image.frombytes("RGB", (184, 184), rng.randbytes(184 * 184 * 3)).save(path)
        paths.append(str(path))
    return paths


def bound(requests: int, concurrency: int | None, latency: float) -> float | None:
    if not concurrency:
        return None
    return math.ceil(requests / concurrency) * latency


def run_scenario(
    emu: RemoteEmulator,
    scenario: str,
    field: list[contenders.Contender],
    inputs: list[Any],
    latency: float,
) -> list[Row]:
    rows = []
    for c in field:
        emu.configure(latency=latency, **SCENARIOS[scenario])
        row = measure(c.name, scenario, c.concurrency, c.call, inputs, emu, c.note)
        planned = math.ceil(len(inputs) / contenders.BATCH)
        if scenario == "rate limit":
            row.bound = max(planned / RATE_PER_SECOND, bound(planned, c.concurrency, latency) or 0)
        else:
            row.bound = bound(planned, c.concurrency or row.max_in_flight, latency)
        rows.append(row)
        print(report.line(row), flush=True)
    return rows


def image_rows(
    emu: RemoteEmulator,
    paths: list[str],
    concurrencies: list[int],
    latency: float,
    only: list[str] | None = None,
) -> list[Row]:
    from dashscope_embeddings.langchain import DashScopeEmbeddings
    from dashscope_embeddings.llama_index import DashScopeEmbedding

    rows = []
    model = "qwen3-vl-embedding"
    # Once, unmeasured: the emulator keeps what it decoded of an image it saw
    # (as a service would not need to), so every measured row meets the same
    # emulator and the rows measure the client, not the emulator's decoding.
    emu.configure(latency=0.0, **CLEAN)
    DashScopeEmbeddings(model=model, base_url=emu.base_url, api_key="b").embed_images(paths)
    for c in concurrencies:
        lc = DashScopeEmbeddings(model=model, base_url=emu.base_url, api_key="b", max_concurrency=c)
        li = DashScopeEmbedding(
            model_name=model, base_url=emu.base_url, api_key="b", max_concurrency=c
        )
        calls = {
            "ours LangChain sync": lc.embed_images,
            "ours LangChain async": lambda p, lc=lc: asyncio.run(lc.aembed_images(p)),
            "ours LlamaIndex sync": li.get_image_embedding_batch,
            "ours LlamaIndex async": lambda p, li=li: asyncio.run(li.aget_image_embedding_batch(p)),
            bare.NAME: bare.images_call(emu.base_url, c, model, 5),
        }
        for name, call in calls.items():
            if only and not any(o in name for o in only):
                continue
            emu.configure(latency=latency, **CLEAN)
            row = measure(name, "images", c, call, paths, emu)
            row.bound = bound(row.requests, c, latency)
            rows.append(row)
            print(report.line(row), flush=True)
    return rows


def parse_cost(base_url: str) -> dict[str, Any]:
    """Our parsing of one 10-vector response against ``orjson.loads`` of the same bytes.

    Two bodies: the emulator's (its stand-in vectors are mostly ``0.0``) and one
    of dense random floats, like the real service's. Best of 15 rounds of 100
    calls each, so a busy machine's interruptions drop out.
    """
    import httpx
    import orjson

    from dashscope_embeddings._catalog import CATALOG, Endpoint
    from dashscope_embeddings._inputs import text_item
    from dashscope_embeddings._planner import plan_requests
    from dashscope_embeddings._responses import parse_response

    [request] = plan_requests(
        [text_item(t, i) for i, t in enumerate(texts(10))], CATALOG[contenders.MODEL], {}, None
    )
    url = base_url + Endpoint.TEXT.path
    emulated = httpx.post(url, json=request.body, headers={"Authorization": "Bearer b"}).content
    rng = random.Random(3)
    results = [
        {"text_index": i, "embedding": [rng.gauss(0.0, 0.03) for _ in range(1024)]}
        for i in range(10)
    ]
    dense = orjson.dumps({"output": {"embeddings": results}, "usage": {"total_tokens": 90}})

    def per_call(fn: Any) -> float:
        start = time.perf_counter()
        for _ in range(100):
            fn()
        return (time.perf_counter() - start) / 100 * 1e3

    out = {}
    for name, body in (("emulator", emulated), ("dense", dense)):
        # Rounds of the two alternate, so a busy spell of the machine slows
        # both alike instead of whichever was measured during it.
        loads, parse = [], []
        for _ in range(15):
            loads.append(per_call(lambda body=body: orjson.loads(body)))
            parse.append(per_call(lambda body=body: parse_response(request, body, 1024)))
        out[name] = {"body_kb": len(body) / 1024, "loads_ms": min(loads), "parse_ms": min(parse)}
    return out


def memory(emu: RemoteEmulator, field: list[contenders.Contender], inputs: list[str]) -> list[Any]:
    """Peak memory of one call per library (latency 0: it does not change the peak)."""
    out, seen = [], set()
    for c in field:
        library = c.name.rsplit(" ", 1)[0] if c.name.endswith(("sync", "async")) else c.name
        if library in seen or "async" in c.name:
            continue
        seen.add(library)
        emu.configure(latency=0.0, **CLEAN)
        try:
            peak, size = peak_memory(c.call, inputs)
        except Exception as exc:
            print(f"memory {c.name}: {type(exc).__name__}")
            continue
        out.append({"contender": library, "peak_mb": peak, "vectors_mb": size})
        print(f"memory {library}: peak {peak:.1f} MB for {size:.1f} MB of vectors", flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--latency", type=float, default=0.15)
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: ours only, 100 texts, clean, no files"
    )
    parser.add_argument(
        "--only",
        action="append",
        metavar="TEXT",
        help="only contenders whose name contains TEXT (repeatable); a targeted run",
    )
    parser.add_argument(
        "--scenario",
        action="append",
        choices=[*SCENARIOS, "images"],
        help="only these scenarios (repeatable); a targeted run",
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        action="append",
        help="only these max_concurrency values in the sweep (repeatable); a targeted run",
    )
    args = parser.parse_args()
    if args.only or args.scenario or args.concurrency:
        targeted(args)
        return
    latency = args.latency
    n = 100 if args.quick else 1000
    inputs = texts(n)
    started = time.time()
    result: dict[str, Any] = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "load_before": os.getloadavg()[0],
        "latency": latency,
        "n": n,
    }
    scenarios = ["clean"] if args.quick else list(SCENARIOS)
    with RemoteEmulator(latency=latency, seed=7) as emu:
        field = contenders.ours(emu.base_url, 8)
        if not args.quick:
            field += contenders.others(emu.base_url, emu.compatible_url, 8)
        rows: list[Row] = []
        for scenario in scenarios:
            print(f"\n== {scenario}, all contenders")
            rows += run_scenario(emu, scenario, field, inputs, latency)
        sweep: list[Row] = []
        for c in (8, 16, 32) if not args.quick else ():
            for scenario in scenarios:
                print(f"\n== ours at max_concurrency {c}, {scenario}")
                swept = contenders.sweep(emu.base_url, c, scenario)
                sweep += run_scenario(emu, scenario, swept, inputs, latency)
        if not args.quick:
            with tempfile.TemporaryDirectory() as folder:
                print("\n== ours, 200 images of ~100 KB, qwen3-vl-embedding")
                sweep += image_rows(emu, images(200, Path(folder)), [8, 32], latency)
        result["parse"] = parse_cost(emu.base_url)
        result["memory"] = memory(emu, field, inputs)
    result["load_after"] = os.getloadavg()[0]
    result["minutes"] = (time.time() - started) / 60
    result["rows"] = [{**asdict(r), "ratio": r.ratio} for r in rows]
    result["sweep"] = [{**asdict(r), "ratio": r.ratio} for r in sweep]
    print(f"\nparsing: {result['parse']}")
    if args.quick:
        return
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "latest.json").write_text(json.dumps(result, indent=2) + "\n")
    (HERE / "results.md").write_text(report.markdown(result, rows, sweep))
    report.plot(rows, sweep, HERE / "throughput.png")
    print(f"written: {HERE / 'results.md'}, {HERE / 'throughput.png'}")


def targeted(args: argparse.Namespace) -> None:
    """Some scenarios, contenders and concurrencies: rows printed, ``results/partial.json``."""
    only = args.only or [""]
    wanted = args.scenario or [*SCENARIOS, "images"]
    concurrencies = args.concurrency or [8, 16, 32]

    def chosen(field: list[contenders.Contender]) -> list[contenders.Contender]:
        return [c for c in field if any(o in c.name for o in only)]

    inputs = texts(1000)
    rows: list[Row] = []
    with RemoteEmulator(latency=args.latency, seed=7) as emu:
        if not args.concurrency:
            field = chosen(
                contenders.ours(emu.base_url, 8)
                + contenders.others(emu.base_url, emu.compatible_url, 8)
            )
            for scenario in (s for s in wanted if s in SCENARIOS):
                print(f"\n== {scenario}, side by side")
                rows += run_scenario(emu, scenario, field, inputs, args.latency)
        for c in concurrencies:
            for scenario in (s for s in wanted if s in SCENARIOS):
                print(f"\n== ours at max_concurrency {c}, {scenario}")
                swept = chosen(contenders.sweep(emu.base_url, c, scenario))
                rows += run_scenario(emu, scenario, swept, inputs, args.latency)
        if "images" in wanted:
            with tempfile.TemporaryDirectory() as folder:
                print("\n== ours, 200 images of ~100 KB, qwen3-vl-embedding")
                paths = images(200, Path(folder))
                rows += image_rows(emu, paths, concurrencies, args.latency, only)
    (HERE / "results").mkdir(exist_ok=True)
    partial = {"load": os.getloadavg()[0], "rows": [{**asdict(r), "ratio": r.ratio} for r in rows]}
    (HERE / "results" / "partial.json").write_text(json.dumps(partial, indent=2) + "\n")


if __name__ == "__main__":
    main()
