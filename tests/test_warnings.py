"""Warnings point at the caller's line, from every way of configuring a client."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import pytest

from dashscope_embeddings import UnknownModelWarning, create_client
from dashscope_embeddings.langchain import DashScopeEmbeddings
from dashscope_embeddings.llama_index import DashScopeEmbedding

UNKNOWN = "qwen9-future-embedding"


def _warned_here(make: Callable[[], Any], category: type[Warning] = UnknownModelWarning) -> Any:
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        made = make()
    mine = [w for w in record if issubclass(w.category, category)]
    assert len(mine) == 1, [str(w.message) for w in record]
    assert mine[0].filename == __file__, (mine[0].filename, mine[0].lineno)
    return made


def test_create_client() -> None:
    _warned_here(lambda: create_client(UNKNOWN, api_key="k"))


def test_langchain_constructor() -> None:
    _warned_here(lambda: DashScopeEmbeddings(model=UNKNOWN, api_key="k"))


def test_llama_index_constructor() -> None:
    _warned_here(lambda: DashScopeEmbedding(UNKNOWN, api_key="k"))
    _warned_here(lambda: DashScopeEmbedding(model_name=UNKNOWN, api_key="k"))


@pytest.mark.parametrize("adapter", ["langchain", "llama_index"])
def test_assignment(adapter: str) -> None:
    if adapter == "langchain":
        emb: Any = DashScopeEmbeddings(api_key="k")
        _warned_here(lambda: setattr(emb, "model", UNKNOWN))
    else:
        emb = DashScopeEmbedding(api_key="k")
        _warned_here(lambda: setattr(emb, "model_name", UNKNOWN))


def test_model_copy_with_a_new_model() -> None:
    emb = DashScopeEmbeddings(api_key="k")
    _warned_here(lambda: emb.model_copy(update={"model": UNKNOWN}))


def test_framework_fields_do_not_repeat_the_warning() -> None:
    from llama_index.core.callbacks import CallbackManager

    emb = _warned_here(lambda: DashScopeEmbedding(UNKNOWN, api_key="k"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        emb.callback_manager = CallbackManager([])
        emb.embed_batch_size = 16


def test_the_ignored_langchain_client_option() -> None:
    _warned_here(lambda: DashScopeEmbeddings(client=object(), api_key="k"), UserWarning)
