"""The benchmark's rows as a console line, a Markdown report and a plot."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from measure import Row


def _c(row: Row) -> str:
    return str(row.concurrency) if row.concurrency else f"all ({row.max_in_flight} seen)"


def _ratio(row: Row) -> str:
    return "—" if row.ratio is None else f"{row.ratio:.2f}"


def line(row: Row) -> str:
    outcome = row.error or "ok"
    return (
        f"{row.contender:58} C={_c(row):14} {row.seconds:6.2f} s  ratio {_ratio(row):>4}  "
        f"cpu {row.cpu_seconds:5.2f} s  {row.requests:4d} req  {row.throttled:3d}×429  "
        f"{row.vectors:4d}/{row.inputs} vectors  {outcome}"
    )


def _table(rows: list[Row], bound_name: str) -> list[str]:
    out = [
        f"| contender | C | requests | wall | {bound_name} | ratio | client CPU | 429s "
        "| vectors | raised |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        bound = "—" if r.bound is None else f"{r.bound:.2f} s"
        out.append(
            f"| {r.contender} | {_c(r)} | {r.requests} | {r.seconds:.2f} s | {bound} | "
            f"{_ratio(r)} | {r.cpu_seconds:.2f} s | {r.throttled} | {r.vectors} / {r.inputs} | "
            f"{r.error.replace('|', '/') or '—'} |"
        )
    return out


def markdown(result: dict[str, Any], rows: list[Row], sweep: list[Row]) -> str:
    n, latency = result["n"], result["latency"]
    out = [
        "# Benchmark results",
        "",
        "Written by `make bench` (`benchmarks/run.py`); do not edit by hand.",
        "",
        f"Machine: {result['machine']}, **shared with other jobs** (load average "
        f"{result['load_before']:.1f} before the run, {result['load_after']:.1f} after; "
        f"the run took {result['minutes']:.1f} min). Absolute times are noisy; a 2-core box "
        "running the client, the emulator (its own process) and other work is CPU-bound "
        "well before 32 requests in flight.",
        "",
        f"{n:,} texts on text-embedding-v4 (requests of 10), {latency * 1000:.0f} ms latency per "
        "request. **ratio** = bound / wall time, 1.00 is as fast as the concurrency allows; "
        "the bound is `ceil(requests / C) × latency` (clean, faults) and `requests / limit` "
        "(rate limit: 10 requests/s, a 1 s sliding window). C is the requests the client keeps "
        "in flight as configured (1 for a client that sends one request at a time).",
        "",
        "Each library's instance serves its sync row, then its async row, as in an "
        "application: with no quota configured, ours learns the service's rate from the "
        "first 429s of the sync row (the rate-limit rows), and the async row starts with "
        "it. The image rows run after one unmeasured pass, so the emulator has decoded "
        "every image once (it keeps what it decoded) and each row measures the client.",
        "",
    ]
    for scenario in ("clean", "rate limit", "20% faults"):
        bound_name = "requests / limit" if scenario == "rate limit" else "bound"
        out += [f"## {scenario}, side by side", ""]
        out += _table([r for r in rows if r.scenario == scenario], bound_name)
        out.append("")
    notes = {r.contender: r.note for r in rows if r.note}
    if notes:
        out += ["Settings other than defaults:", ""]
        out += [f"- {name}: {note}" for name, note in notes.items()]
        out.append("")
    out += ["## Ours at max_concurrency 8, 16, 32", ""]
    for scenario in ("clean", "rate limit", "20% faults", "images"):
        picked = [r for r in sweep if r.scenario == scenario]
        if picked:
            title = (
                "200 images of ~100 KB, qwen3-vl-embedding (5 per request)"
                if scenario == "images"
                else scenario
            )
            out += [f"### {title}", ""]
            out += _table(picked, "requests / limit" if scenario == "rate limit" else "bound")
            out.append("")
    out += ["## Parsing", ""]
    for name, p in result["parse"].items():
        out.append(
            f"- {name} body of 10 vectors ({p['body_kb']:.0f} KB): our parsing (index matching, "
            f"checks) {p['parse_ms']:.3f} ms against {p['loads_ms']:.3f} ms for a bare "
            f"`orjson.loads` of the same bytes = **{p['parse_ms'] / p['loads_ms']:.2f}×**"
        )
    out += [
        "",
        "(best of 15 rounds of 100 calls, rounds of `loads` and of ours alternating; the "
        "emulator's stand-in vectors are mostly `0.0`, the dense body holds random floats as "
        "the real service's do.)",
        "",
        "## Peak memory",
        "",
        "| contender | peak Python memory | vectors returned | peak / vectors |",
        "|---|---|---|---|",
    ]
    for m in result["memory"]:
        out.append(
            f"| {m['contender']} | {m['peak_mb']:.1f} MB | {m['vectors_mb']:.1f} MB | "
            f"{m['peak_mb'] / m['vectors_mb']:.2f}× |"
        )
    out.append("")
    return "\n".join(out)


def plot(rows: list[Row], sweep: list[Row], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(14, 6.5), width_ratios=(1.5, 1))
    clean = [r for r in rows if r.scenario == "clean"]
    names = [f"{r.contender} (C={_c(r)})" for r in clean]
    left.barh(names, [r.seconds for r in clean], color="#4c72b0")
    for i, r in enumerate(clean):
        left.text(r.seconds, i, f" {r.seconds:.2f} s, ratio {_ratio(r)}", va="center", fontsize=8)
    left.set_xscale("log")
    left.invert_yaxis()
    left.set_xlabel("wall time, seconds (log)")
    left.set_title("1,000 texts, 150 ms latency: wall time (ratio = bound / wall)")
    for scenario, marker in (("clean", "o"), ("images", "s")):
        for name in sorted({r.contender for r in sweep}):
            picked = [r for r in sweep if r.scenario == scenario and r.contender == name]
            if picked:
                right.plot(
                    [r.concurrency for r in picked],
                    [r.ratio for r in picked],
                    marker=marker,
                    # The bare client is the machine's ceiling, not a contender.
                    linestyle=":" if name.startswith("bare") else "-",
                    label=f"{name}, {'texts' if scenario == 'clean' else 'images'}",
                )
    right.axhline(0.9, color="grey", linestyle="--", linewidth=1, label="0.9 target")
    right.set_xscale("log", base=2)
    right.set_xticks([8, 16, 32], ["8", "16", "32"])
    right.set_ylim(0, 1.1)
    right.set_xlabel("max_concurrency")
    right.set_ylabel("bound / wall time")
    right.set_title("bound / wall (dotted: bare client)")
    right.legend(fontsize=7, loc="lower left")
    fig.suptitle("dashscope-embeddings benchmark (emulator, shared 2-core machine)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
