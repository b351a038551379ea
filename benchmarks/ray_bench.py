"""The Ray Data stage with 1, 2 and 4 workers against the emulator with latency and a quota.

Embeds the same texts with ``map_batches(DashScopeEmbedder, concurrency=N)``
on a local Ray runtime, the emulator answering after ``--latency`` seconds and
refusing (429) more than ``--rpm`` requests per minute, counted over a short
sliding window so that a minute's quota cannot be spent in one burst. The
stage is told ``requests_per_minute`` a little under it (``--headroom``), as
users should. For each worker count it reports:

- wall time of the whole Ray job (actor start-up included) and the span from
  the first to the last request the emulator saw (the paced part);
- the two bounds no run can beat: the quota bound ``requests / quota`` and the
  unthrottled bound ``ceil(requests / (workers x max_concurrency)) x latency``;
- requests counted on the emulator, 429s among them, the busiest window
  against what the quota allows in it, and vectors returned;
- the machine's load average before and after (a shared machine skews times).

Usage: ``python benchmarks/ray_bench.py [--n 10000] [--rpm 2400] [--workers 1 2 4]``.
Needs the ``ray`` extra. Not part of ``make test``; ``make bench-ray`` runs it.
"""

from __future__ import annotations

import argparse
import math
import os
import time
import uuid
from dataclasses import dataclass

os.environ.setdefault("RAY_DISABLE_IMPORT_WARNING", "1")

import ray

from dashscope_embeddings.emulator import Emulator
from dashscope_embeddings.ray import DashScopeEmbedder

MODEL = "text-embedding-v4"
PER_REQUEST = 10  # text-embedding-v4's inputs per request
DIMENSION = 1024


@dataclass
class Run:
    workers: int
    wall: float
    span: float
    requests: int
    throttled: int
    busiest: int
    allowed: int
    vectors: int
    quota_bound: float
    stage_bound: float
    unthrottled_bound: float
    load_before: float
    load_after: float


def _texts(n: int) -> list[str]:
    return [f"passage {i}: the {('red', 'blue', 'green')[i % 3]} item number {i}" for i in range(n)]


def _busiest(arrivals: list[float], window: float) -> int:
    """Most requests that arrived within any ``window`` seconds."""
    most, first = 0, 0
    for last, t in enumerate(arrivals):
        while arrivals[first] <= t - window:
            first += 1
        most = max(most, last - first + 1)
    return most


def run(emu: Emulator, texts: list[str], workers: int, args: argparse.Namespace) -> Run:
    emu.reset()
    emu.config.latency = args.latency
    emu.config.rpm = args.rpm
    emu.config.rpm_window = args.window
    stage_rpm = args.rpm * (1 - args.headroom)
    ds = ray.data.from_items(
        [{"id": i, "text": t} for i, t in enumerate(texts)],
        override_num_blocks=max(1, len(texts) // args.batch_size),
    )
    ds = ds.map_batches(
        DashScopeEmbedder,
        fn_constructor_kwargs={
            "model": MODEL,
            "base_url": emu.base_url,
            "api_key": "bench",
            "max_concurrency": args.max_concurrency,
            "requests_per_minute": stage_rpm,
            # A budget of its own per run: no run inherits another's slow-down.
            "budget_name": uuid.uuid4().hex,
        },
        concurrency=workers,
        num_cpus=0.25,
        batch_size=args.batch_size,
    )
    load_before = os.getloadavg()[0]
    start = time.perf_counter()
    rows = ds.take_all()
    wall = time.perf_counter() - start
    load_after = os.getloadavg()[0]

    needed = math.ceil(len(texts) / PER_REQUEST)
    records = [r for r in emu.requests if r.outcome == "answered"]
    arrivals = sorted(r.arrived for r in records)
    vectors = sum(
        1 for row in rows if row["embedding"] is not None and len(row["embedding"]) == DIMENSION
    )
    return Run(
        workers=workers,
        wall=wall,
        span=arrivals[-1] - arrivals[0] + args.latency if arrivals else 0.0,
        requests=emu.stats.requests,
        throttled=emu.stats.statuses.get(429, 0),
        busiest=_busiest(arrivals, args.window),
        allowed=int(args.rpm * args.window / 60),
        vectors=vectors,
        quota_bound=needed / (args.rpm / 60),
        stage_bound=needed / (stage_rpm / 60),
        unthrottled_bound=math.ceil(needed / (workers * args.max_concurrency)) * args.latency,
        load_before=load_before,
        load_after=load_after,
    )


def table(runs: list[Run], n: int) -> str:
    lines = [
        "| workers | wall time | paced span | quota bound | stage bound | unthrottled bound "
        "| wall / max bound | requests | 429s | busiest window / allowed | vectors | load |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in runs:
        bound = max(r.stage_bound, r.unthrottled_bound)
        lines.append(
            f"| {r.workers} | {r.wall:.1f} s | {r.span:.1f} s | {r.quota_bound:.1f} s "
            f"| {r.stage_bound:.1f} s | {r.unthrottled_bound:.1f} s | {r.wall / bound:.2f} "
            f"| {r.requests} | {r.throttled} | {r.busiest} / {r.allowed} "
            f"| {r.vectors} / {n} | {r.load_before:.1f} → {r.load_after:.1f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000, help="texts to embed")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--latency", type=float, default=0.15, help="seconds per request")
    parser.add_argument("--rpm", type=int, default=2400, help="the emulator's quota")
    parser.add_argument("--window", type=float, default=5.0, help="seconds the quota counts")
    parser.add_argument("--headroom", type=float, default=0.05, help="stage rpm under quota")
    parser.add_argument("--max-concurrency", type=int, default=4, help="requests per worker")
    parser.add_argument("--batch-size", type=int, default=500, help="rows per Ray batch")
    parser.add_argument("--cpus", type=int, default=2, help="CPUs of the local Ray runtime")
    args = parser.parse_args()

    ray.init(
        num_cpus=args.cpus,
        include_dashboard=False,
        log_to_driver=False,
        configure_logging=False,
        logging_level="ERROR",
    )
    ray.data.DataContext.get_current().enable_progress_bars = False
    texts = _texts(args.n)
    runs: list[Run] = []
    try:
        with Emulator(max_records=2 * args.n) as emu:
            for workers in args.workers:
                runs.append(run(emu, texts, workers, args))
                print(f"{workers} worker(s): {runs[-1].wall:.1f} s", flush=True)
    finally:
        ray.shutdown()
    stage_rpm = args.rpm * (1 - args.headroom)
    print(
        f"\n{args.n} texts, {MODEL}, {math.ceil(args.n / PER_REQUEST)} requests of "
        f"{PER_REQUEST}; emulator: {args.latency} s latency, {args.rpm} requests/min over "
        f"{args.window:g} s windows; stage: requests_per_minute={stage_rpm:g}, "
        f"max_concurrency={args.max_concurrency}, batch_size={args.batch_size}; "
        f"Ray {ray.__version__}, {args.cpus} CPUs, {os.cpu_count()} cores\n"
    )
    print(table(runs, args.n))


if __name__ == "__main__":
    main()
