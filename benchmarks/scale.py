"""Client CPU per request as the job grows: it must stay flat.

``python benchmarks/scale.py``: 100, 1,000 and 5,000 requests of 10 texts
(text-embedding-v4 at dimension 64, so answers are small and the client's own
work shows), sync and async, against the emulator in its own process with no
latency. A cost that grows with the number of requests in a call (the async
runner once waited on every pending task at each answer: quadratic) shows
here as CPU per request rising with the job. Prints a table; writes nothing.
"""

from __future__ import annotations

import asyncio
import time

from remote import RemoteEmulator

from dashscope_embeddings import create_client

SIZES = (100, 1_000, 5_000)


def main() -> None:
    with RemoteEmulator(latency=0.0, seed=7) as emu:
        client = create_client(
            "text-embedding-v4", base_url=emu.base_url, api_key="bench", dimension=64
        )
        client.embed_texts(["warm up"])
        print("| requests | sync: client CPU per request | async: client CPU per request |")
        print("|---|---|---|")
        for requests in SIZES:
            texts = [f"text {i}" for i in range(requests * 10)]
            cells = []
            for run in (client.embed_texts, lambda t: asyncio.run(client.aembed_texts(t))):
                cpu = time.process_time()
                assert len(run(texts).embeddings) == len(texts)
                cells.append(f"{(time.process_time() - cpu) / requests * 1e3:.2f} ms")
            print(f"| {requests:,} | {cells[0]} | {cells[1]} |", flush=True)


if __name__ == "__main__":
    main()
