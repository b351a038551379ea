"""Catalog, planner, emulator and response parser agree: whatever the client plans for a model,
the emulator accepts, and whatever the emulator answers, the client's parser takes.

A disagreement here means one of the four reads the catalog differently.
"""

from __future__ import annotations

import base64
import io
import random
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from PIL import Image

from dashscope_embeddings._catalog import CATALOG, Fusion, ModelSpec
from dashscope_embeddings._errors import InputError
from dashscope_embeddings._inputs import Item, fused_item, image_item, text_item, video_item
from dashscope_embeddings._planner import plan_requests
from dashscope_embeddings._responses import parse_response
from dashscope_embeddings.emulator import Emulator


def _png(colour: tuple[int, int, int]) -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), colour).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


INLINE = _png((200, 30, 30))


def _url(i: int) -> str:
    return f"https://example.com/pics/photo_{i}.png"


def _items(spec: ModelSpec, rng: random.Random) -> list[Item]:
    """A shuffled mix of everything the client lets a caller ask of this model."""
    if spec.is_text:
        return [text_item(f"text number {i}", i) for i in range(23)]
    makers: list[Any] = [
        lambda i: text_item(f"caption {i}", i),
        lambda i: image_item(_url(i), i, spec),
        lambda i: image_item(INLINE, i, spec),
        lambda i: video_item(f"https://example.com/clips/{i}.mp4", i),
        lambda i: fused_item({"images": [_url(i), INLINE, _url(i + 1)]}, i, spec),
        lambda i: fused_item({"text": f"caption {i}", "image": _url(i)}, i, spec),
        lambda i: fused_item({"text": f"caption {i}", "video": "https://e.com/v.mp4"}, i, spec),
        lambda i: fused_item(
            {"text": "t", "image": INLINE, "video": "https://e.com/v.mp4"}, i, spec
        ),
    ]
    items: list[Item] = []
    for _ in range(40):
        try:
            item = rng.choice(makers)(len(items))
            plan_requests([item], spec, {})  # the planner refuses what the model cannot take
        except InputError:
            continue  # refused by the client: nothing to send
        items.append(item)
    return items


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=30, headers={"Authorization": "Bearer k"}) as client:
        yield client


@pytest.mark.parametrize("model", sorted(CATALOG))
def test_everything_planned_is_accepted_and_parsed(
    model: str, emu: Emulator, http: httpx.Client
) -> None:
    spec = CATALOG[model]
    items = _items(spec, random.Random(model))
    assert items
    requests = plan_requests(items, spec, {})
    seen: set[int] = set()
    for request in requests:
        response = http.post(emu.base_url + request.endpoint.path, json=request.body)
        assert response.status_code == 200, response.text
        parsed = parse_response(request, response.content, spec.dimensions[0])
        assert set(parsed.vectors) == set(request.positions)
        seen |= set(parsed.vectors)
    assert seen == set(range(len(items)))
    if spec.fusion is Fusion.ONLY:
        assert len(requests) == len(items)
