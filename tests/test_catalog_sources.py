"""Every number of the catalog says where it comes from."""

from __future__ import annotations

import pytest

from dashscope_embeddings import CATALOG
from dashscope_embeddings.emulator import Emulator
from dashscope_embeddings.langchain import DashScopeEmbeddings


@pytest.mark.parametrize("name", sorted(CATALOG))
def test_each_model_names_its_vendor_source(name: str) -> None:
    source = CATALOG[name].source
    assert any(doc in source for doc in ("EN:", "ZH:", "TEXT:", "Not in the current vendor")), name


def test_legacy_text_models_have_no_invented_token_limit(emu: Emulator) -> None:
    # No vendor document gives text-embedding-v1/v2 a token limit: a long text is
    # the service's to refuse, not the emulator's.
    for name in ("text-embedding-v1", "text-embedding-v2"):
        assert CATALOG[name].max_text_tokens is None
        emb = DashScopeEmbeddings(model=name, base_url=emu.base_url, api_key="k")
        assert len(emb.embed_query("word " * 5000)) == 1536
