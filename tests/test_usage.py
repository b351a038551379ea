"""``EmbeddingResult.usage`` keeps every usage field the service sends, summed over requests."""

from __future__ import annotations

from dashscope_embeddings import create_client
from dashscope_embeddings.emulator import Emulator


def test_tongyi_usage_details_are_kept_flattened_and_summed(emu: Emulator) -> None:
    texts = ["red apple", "the blue sea under a clear sky, seen from a boat"]
    client = create_client(
        "tongyi-embedding-vision-plus-2026-03-06", base_url=emu.base_url, api_key="k", batch_size=1
    )
    try:
        singles = [client.embed_texts([text]).usage for text in texts]
        both = client.embed_texts(texts)
    finally:
        client.close()
    assert len(both.request_ids) == 2
    # The nested object of the tongyi family, flattened with dotted names.
    assert singles[0]["input_tokens_details.text_tokens"] > 0
    assert "input_tokens_details.image_tokens" in singles[0]
    assert singles[0].keys() == both.usage.keys()
    assert {k: singles[0][k] + singles[1][k] for k in singles[0]} == both.usage
    assert (
        singles[0]["input_tokens_details.text_tokens"]
        != singles[1]["input_tokens_details.text_tokens"]
    )
