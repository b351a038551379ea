"""The catalog against the vendor's documents, copied here by hand.

A test that reads its expectations from the catalog cannot catch a wrong
catalog value; these numbers come from ``shared/reference`` (the capability
table of its README, which settles where the documents disagree), so a typo
in ``_catalog.py`` fails here.
"""

from __future__ import annotations

from typing import Any

import pytest

from dashscope_embeddings import CATALOG, Fusion

MB = 1024 * 1024

# model: (dimensions with the default first, per-request limits, fusion form, extras)
VENDOR_FACTS: dict[str, dict[str, Any]] = {
    "qwen3-vl-embedding": {
        "dimensions": (2560, 2048, 1536, 1024, 768, 512, 256),
        "max_elements": 20,
        "max_images": 5,  # the zh document says 10; the newer English one 5
        "max_videos": 1,
        "max_image_bytes": 5 * MB,
        "fusion": Fusion.FLAG,
        "takes": {"instruct"},
    },
    "qwen2.5-vl-embedding": {
        "dimensions": (1024, 2048, 768, 512),
        "max_texts": 1,
        "max_images": 1,
        "max_videos": 1,
        "fusion": Fusion.ONLY,
    },
    "tongyi-embedding-vision-plus-2026-03-06": {
        "dimensions": (1152, 1024, 512, 256, 128, 64),
        "max_elements": 20,
        "max_images": 64,
        "max_videos": 8,
        "max_text_tokens": 1024,
        "max_image_bytes": 10 * MB,
        "fusion": Fusion.SAME_OBJECT,
        "takes": {"res_level", "max_video_frames"},
    },
    "tongyi-embedding-vision-flash-2026-03-06": {
        "dimensions": (768, 512, 256, 128, 64),
        "max_elements": 20,
        "max_images": 64,
        "max_videos": 8,
        "max_text_tokens": 1024,
        "max_image_bytes": 10 * MB,
        "fusion": Fusion.SAME_OBJECT,
        "takes": {"res_level", "max_video_frames"},
    },
    "tongyi-embedding-vision-plus": {
        "dimensions": (1152,),
        "max_multi_images": 8,
        "max_image_bytes": 3 * MB,
        "fusion": Fusion.NONE,
    },
    "tongyi-embedding-vision-flash": {
        "dimensions": (768,),
        "max_multi_images": 8,
        "max_image_bytes": 3 * MB,
        "fusion": Fusion.NONE,
    },
    "multimodal-embedding-v1": {
        "dimensions": (1024,),
        "max_elements": 20,
        "max_texts": 20,
        "max_images": 1,
        "max_videos": 1,
        "max_text_tokens": 512,
        "truncates_long_text": True,
        "fusion": Fusion.NONE,
    },
    "text-embedding-v4": {
        "dimensions": (1024, 2048, 1536, 768, 512, 256, 128, 64),
        "max_elements": 10,
        "max_text_tokens": 8192,
        "takes": {"text_type", "instruct"},
        "sparse": True,
    },
    "text-embedding-v3": {
        "dimensions": (1024, 768, 512, 256, 128, 64),
        "max_elements": 10,
        "max_text_tokens": 8192,
        "takes": {"text_type"},
        "sparse": True,
    },
    "text-embedding-v2": {"dimensions": (1536,), "max_elements": 25, "sparse": False},
    "text-embedding-v1": {"dimensions": (1536,), "max_elements": 25, "sparse": False},
}


def test_the_catalog_lists_exactly_the_documented_models() -> None:
    assert set(CATALOG) == set(VENDOR_FACTS)


@pytest.mark.parametrize("model", sorted(VENDOR_FACTS))
def test_catalog_matches_the_vendor_documents(model: str) -> None:
    spec = CATALOG[model]
    facts = dict(VENDOR_FACTS[model])
    takes = facts.pop("takes", set())
    sparse = facts.pop("sparse", None)
    for name, documented in facts.items():
        assert getattr(spec, name) == documented, f"{model}.{name}"
    assert spec.default_dimension == facts["dimensions"][0]
    for parameter in takes:
        assert spec.takes(parameter), f"{model} takes {parameter}"
    if sparse is not None:
        assert ("sparse" in spec.output_types) is sparse


@pytest.mark.parametrize("model", ["multimodal-embedding-v1", "qwen2.5-vl-embedding"])
def test_models_without_instruct_do_not_take_it(model: str) -> None:
    assert not CATALOG[model].takes("instruct")
