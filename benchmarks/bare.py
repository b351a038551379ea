"""A bare asyncio client: the ceiling this machine leaves any client.

Raw HTTP/1.1 on asyncio streams, ``orjson``, a semaphore for ``C`` requests
in flight, a new event loop per call (as ``asyncio.run`` gives ours), texts
encoded on the loop and image bodies read and base64-encoded on one thread, as
ours does. Nothing else: no checks, no retries, no pacing, no timeouts, no
index matching. Nobody should use it. It is here because the emulator, the
loopback and a shared 2-core box cost time that no client can avoid, and the
ratio this client reaches shows how much; what ours loses beyond it is ours.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson

from dashscope_embeddings._catalog import Endpoint

NAME = "bare asyncio client (ceiling)"

Embed = Callable[[list[str]], list[Any]]


def texts_call(base_url: str, concurrency: int, model: str, batch: int) -> Embed:
    def body(chunk: list[str]) -> bytes:
        return orjson.dumps({"model": model, "input": {"texts": chunk}, "parameters": {}})

    return _call(base_url, Endpoint.TEXT, concurrency, batch, body, "text_index", offload=False)


def images_call(base_url: str, concurrency: int, model: str, batch: int) -> Embed:
    def body(chunk: list[str]) -> bytes:
        contents = [
            {"image": "data:image/png;base64," + base64.b64encode(Path(p).read_bytes()).decode()}
            for p in chunk
        ]
        return orjson.dumps({"model": model, "input": {"contents": contents}, "parameters": {}})

    return _call(base_url, Endpoint.MULTIMODAL, concurrency, batch, body, "index", offload=True)


def _call(
    base_url: str,
    endpoint: Endpoint,
    concurrency: int,
    batch: int,
    body: Callable[[list[str]], bytes],
    index_key: str,
    *,
    offload: bool,
) -> Embed:
    parts = urlsplit(base_url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    head = (
        f"POST {parts.path.rstrip('/')}{endpoint.path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        "Authorization: Bearer bench\r\nContent-Type: application/json\r\n"
    ).encode()

    async def run(inputs: list[str]) -> list[Any]:
        loop = asyncio.get_running_loop()
        gate = asyncio.Semaphore(concurrency)
        idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        encoder = ThreadPoolExecutor(1)

        async def one(chunk: list[str]) -> list[Any]:
            async with gate:
                if offload:  # file reads and base64 off the loop, as ours
                    content = await loop.run_in_executor(encoder, body, chunk)
                else:
                    content = body(chunk)
                reader, writer = idle.pop() if idle else await asyncio.open_connection(host, port)
                writer.write(head + b"Content-Length: %d\r\n\r\n" % len(content) + content)
                headers = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    int(line.split(b":")[1])
                    for line in headers.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                answer = orjson.loads(await reader.readexactly(length))
                idle.append((reader, writer))
            results = sorted(answer["output"]["embeddings"], key=lambda r: r[index_key])
            return [r["embedding"] for r in results]

        try:
            chunks = [inputs[i : i + batch] for i in range(0, len(inputs), batch)]
            done = await asyncio.gather(*(one(c) for c in chunks))
        finally:
            for _, writer in idle:
                writer.close()
            encoder.shutdown()
        return [vector for vectors in done for vector in vectors]

    return lambda inputs: asyncio.run(run(inputs))
