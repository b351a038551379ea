"""Results come back in input order whatever order the service answers in.

Through the public client, over an ``httpx.MockTransport`` that answers each
request with its results in an order hypothesis picks. A client that zips
results by position instead of matching ``index`` / ``text_index`` fails.
"""

from __future__ import annotations

import random
from typing import Any

import httpx
import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from dashscope_embeddings import create_client


def _tag(text: str) -> float:
    return float(text.removeprefix("t"))


def _service(seed: int) -> httpx.MockTransport:
    shuffle = random.Random(seed).shuffle

    def answer(request: httpx.Request) -> httpx.Response:
        body = orjson.loads(request.content)
        dim = body["parameters"]["dimension"]
        if "texts" in body["input"]:
            results = [
                {"text_index": i, "embedding": [_tag(t)] + [0.0] * (dim - 1)}
                for i, t in enumerate(body["input"]["texts"])
            ]
        elif body["parameters"].get("enable_fusion"):
            text = next(c["text"] for c in body["input"]["contents"] if "text" in c)
            results = [
                {"index": 0, "embedding": [_tag(text)] + [0.0] * (dim - 1), "type": "fusion"}
            ]
        else:
            results = []
            for i, content in enumerate(body["input"]["contents"]):
                kind = "fused" if "image" in content and "text" in content else "text"
                if body["model"].startswith("qwen3"):
                    kind = "vl"
                vector = [_tag(content["text"])] + [0.0] * (dim - 1)
                results.append({"index": i, "embedding": vector, "type": kind})
        shuffle(results)
        payload: dict[str, Any] = {
            "output": {"embeddings": results},
            "usage": {"total_tokens": len(results)},
            "request_id": "r",
        }
        return httpx.Response(200, content=orjson.dumps(payload))

    return httpx.MockTransport(answer)


@settings(max_examples=60, deadline=None)
@given(
    case=st.sampled_from(
        [
            ("text-embedding-v4", 64),
            ("qwen3-vl-embedding", 256),
            ("tongyi-embedding-vision-plus-2026-03-06", 64),
        ]
    ),
    kinds=st.lists(st.sampled_from(["text", "fused"]), min_size=1, max_size=45),
    batch_size=st.one_of(st.none(), st.integers(1, 25)),
    seed=st.integers(0, 2**16),
)
def test_vectors_are_in_input_order_whatever_the_answer_order(
    case: tuple[str, int], kinds: list[str], batch_size: int | None, seed: int
) -> None:
    model, dim = case
    client = create_client(
        model,
        api_key="k",
        dimension=dim,
        batch_size=batch_size,
        http_client=httpx.Client(transport=_service(seed)),
    )
    if model.startswith("text-"):
        result = client.embed_texts([f"t{i}" for i in range(len(kinds))])
    else:
        items = [
            {"text": f"t{i}"}
            if kind == "text"
            else {"text": f"t{i}", "image": "https://example.com/a.png"}
            for i, kind in enumerate(kinds)
        ]
        result = client.embed_fused(items)
    assert [v[0] for v in result.embeddings] == [float(i) for i in range(len(kinds))]
    assert all(len(v) == dim for v in result.embeddings)
    # usage is summed over every request of the call (one token per result here)
    assert result.usage["total_tokens"] == len(kinds)
