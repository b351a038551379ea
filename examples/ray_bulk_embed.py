"""Bulk embedding with Ray Data: read a corpus, chunk it, embed it, write parquet; resumable.

    python examples/ray_bulk_embed.py                       # a demo corpus, emulator
    python examples/ray_bulk_embed.py --input docs.jsonl --output out/ --workers 8 \\
        --requests-per-minute 1800 --tokens-per-minute 1000000

The input is a parquet file/directory or a JSONL file with ``id`` and ``text``
columns. Each document is cut into chunks of about ``--chunk-chars``
characters with ids ``<id>#<n>``; the output parquet keeps those ids next to
the vectors. Run it again with the same ``--output`` and it embeds only the
chunks not written yet (after a crash, or when new documents arrive). Rows the
service refuses land in the output with ``embedding_error`` set, not lost.

Locally it starts Ray on this machine; on a cluster, set ``RAY_ADDRESS`` (or
submit it as a Ray job) and pass the key to the workers, e.g.
``ray job submit --runtime-env-json '{"env_vars": {"DASHSCOPE_API_KEY": "..."}}'``.
Uses DashScope when DASHSCOPE_API_KEY is set, the bundled emulator otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

os.environ.setdefault("RAY_DISABLE_IMPORT_WARNING", "1")

import ray
from _backend import DATA, dashscope_backend

from dashscope_embeddings.ray import DashScopeEmbedder

MODEL = "text-embedding-v4"


def demo_corpus(folder: Path) -> Path:
    """A JSONL corpus made of the example passages, repeated into longer documents."""
    passages = json.loads((DATA / "texts.json").read_text())
    path = folder / "corpus.jsonl"
    with path.open("w") as out:
        for i in range(200):
            body = " ".join(passages[(i + k) % len(passages)] for k in range(6))
            out.write(json.dumps({"id": f"doc-{i}", "text": body}) + "\n")
    return path


def read_corpus(path: Path) -> ray.data.Dataset:
    if path.suffix in (".jsonl", ".json"):
        return ray.data.read_json(str(path), lines=True)
    return ray.data.read_parquet(str(path))


def chunk(row: dict[str, Any], size: int) -> Iterator[dict[str, Any]]:
    """Chunks on sentence ends, each at most about ``size`` characters."""
    sentences = [s.strip() + "." for s in str(row["text"]).split(".") if s.strip()]
    current: list[str] = []
    number = 0
    for sentence in sentences:
        if current and sum(map(len, current)) + len(sentence) > size:
            yield {
                "chunk_id": f"{row['id']}#{number}",
                "doc_id": row["id"],
                "text": " ".join(current),
            }
            number += 1
            current = []
        current.append(sentence)
    if current:
        yield {"chunk_id": f"{row['id']}#{number}", "doc_id": row["id"], "text": " ".join(current)}


def already_written(output: Path) -> set[str]:
    if not any(output.glob("*.parquet")):
        return set()
    done = ray.data.read_parquet(str(output), columns=["chunk_id"])
    return {row["chunk_id"] for row in done.iter_rows()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", type=Path, help="parquet or JSONL with id and text columns")
    parser.add_argument("--output", type=Path, help="parquet directory (resumed if it exists)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--chunk-chars", type=int, default=200)
    parser.add_argument("--requests-per-minute", type=int, default=None)
    parser.add_argument("--tokens-per-minute", type=int, default=None)
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="ray-bulk-embed-"))
    source = args.input or demo_corpus(scratch)
    output = args.output or scratch / "embeddings"

    ray.init(include_dashboard=False, log_to_driver=False, configure_logging=False)
    ray.data.DataContext.get_current().enable_progress_bars = False
    with dashscope_backend() as backend:
        chunks = read_corpus(source).flat_map(chunk, fn_args=(args.chunk_chars,))
        done = already_written(output)
        todo = chunks.filter(lambda row: row["chunk_id"] not in done) if done else chunks
        embedded = todo.map_batches(
            DashScopeEmbedder,
            fn_constructor_kwargs={
                "model": MODEL,
                "dimension": 512,
                "on_error": "record",
                "requests_per_minute": args.requests_per_minute,
                "tokens_per_minute": args.tokens_per_minute,
                **backend,
            },
            compute=ray.data.ActorPoolStrategy(size=args.workers),
            # The stage mostly waits on the network: a fraction of a CPU each
            # leaves the rest to reading, chunking and writing.
            num_cpus=0.25,
            batch_size=100,
        )
        # Each run adds its own files to the directory; earlier ones stay.
        embedded.write_parquet(str(output))
    table = ray.data.read_parquet(str(output)).to_pandas()
    refused = int(table["embedding_error"].notna().sum())
    print(f"skipped {len(done)} chunks already written")
    print(
        f"{output}: {len(table)} chunks, {refused} refused, dimension {len(table['embedding'][0])}"
    )
    ray.shutdown()


if __name__ == "__main__":
    main()
