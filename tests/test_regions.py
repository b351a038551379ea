"""No model/region availability warnings: the vendor's lists move faster than any table."""

from __future__ import annotations

import warnings

import pytest

from dashscope_embeddings import create_client
from dashscope_embeddings.langchain import DashScopeEmbeddings
from dashscope_embeddings.llama_index import DashScopeEmbedding


@pytest.mark.parametrize("model", ["text-embedding-v4", "text-embedding-v3", "qwen3-vl-embedding"])
@pytest.mark.parametrize("region", ["intl", "ap-southeast-1", "cn-beijing"])
def test_no_warning_for_any_model_in_any_region(model: str, region: str) -> None:
    # text-embedding-v4 in Singapore used to warn "not offered in ap-southeast-1",
    # which the vendor's current page contradicts.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        DashScopeEmbeddings(model=model, region=region, api_key="k")
        DashScopeEmbedding(model_name=model, region=region, api_key="k")
        create_client(model, region=region, api_key="k")
