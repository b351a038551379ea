"""Secrets audit: a distinctive key goes through a normal workload and every error
path; it must appear nowhere but in the request header and in a pickle."""

from __future__ import annotations

import asyncio
import logging
import pickle
import traceback
import warnings
from collections.abc import Callable
from typing import Any

import pytest

from dashscope_embeddings import DashScopeError, create_client
from dashscope_embeddings.emulator import Emulator
from dashscope_embeddings.langchain import DashScopeEmbeddings
from dashscope_embeddings.llama_index import DashScopeEmbedding

KEY = "sk-AUDIT-7f3c9e1d2b4a6e8f"
FRAGMENT = "7f3c9e1d2b4a"  # also catches a key cut, escaped or quoted


def test_the_key_never_leaves(
    emu: Emulator, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    for name in list(logging.root.manager.loggerDict):
        logging.getLogger(name).setLevel(logging.DEBUG)
    emu.config.api_key = KEY
    options: dict[str, Any] = {"base_url": emu.base_url, "api_key": KEY + "\n"}
    seen: list[str] = []

    def fails(call: Callable[[], Any]) -> None:
        try:
            call()
        except DashScopeError as exc:
            seen.extend([str(exc), repr(exc), "".join(traceback.format_exception(exc))])
        else:
            raise AssertionError("expected a DashScopeError")

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        lc = DashScopeEmbeddings(model="text-embedding-v4", show_progress=True, **options)
        li = DashScopeEmbedding("qwen3-vl-embedding", **options)
        core = create_client("text-embedding-v4", batch_size=2, show_progress=True, **options)
        # A normal workload.
        lc.embed_documents([f"doc {i}" for i in range(25)])
        lc.embed_query("q")
        asyncio.run(lc.aembed_documents(["a", "b"]))
        li.get_text_embedding_batch(["a", "b"])
        li.get_query_embedding("q")
        core.embed_texts(["a", "b", "c"])
        lc.api_key = KEY  # assigned
        copied = li.model_copy(update={"api_key": KEY})
        copied.get_query_embedding("q")
        # Error paths: service errors, connection errors, timeouts, bad input, bad options.
        quick = create_client("text-embedding-v4", max_retries=0, **options)
        for status in (400, 401, 403, 429, 500, 503):
            emu.inject(status)
            fails(lambda: quick.embed_texts(["x"]))
        emu.inject(reset=True)
        fails(lambda: quick.embed_texts(["x"]))
        emu.inject(delay=2)
        fails(lambda: create_client(timeout=0.3, max_retries=0, **options).embed_texts(["x"]))
        fails(lambda: quick.embed_texts([None]))  # type: ignore[list-item]
        fails(lambda: quick.embed_texts(["\ud800"]))
        fails(lambda: li.get_image_embedding("/no/such/file.png"))
        fails(lambda: create_client(base_url="http://example.com/api/v1", api_key=KEY))
        fails(lambda: create_client(base_url=emu.base_url, api_key=KEY + "é"))
        fails(lambda: create_client(base_url=emu.base_url, api_key="\t" + KEY + "\x00"))
        fails(lambda: create_client(dimension=7, **options))
        emu.config.api_key = "another"
        fails(lambda: lc.embed_query("q"))
        emu.config.api_key = KEY

        for obj in (lc, li, copied, core, core.config):
            seen.extend([repr(obj), str(obj)])
        seen.extend(
            [repr(lc.model_dump()), repr(li.model_dump()), li.to_json(), repr(li.to_dict())]
        )
        seen.extend([lc.model_dump_json(), repr(lc.model_json_schema())])

    seen.extend(record.getMessage() for record in caplog.records)
    seen.extend(repr(record.__dict__) for record in caplog.records)
    seen.extend(str(w.message) for w in caught)
    out = capsys.readouterr()
    seen.extend([out.out, out.err])
    assert caplog.records, "DEBUG logging captured nothing: the audit would prove nothing"
    leaks = [text[:200] for text in seen if FRAGMENT in text]
    assert leaks == []
    # By contract a pickle keeps the key (workers need it): treat pickles as secrets.
    assert FRAGMENT.encode() in pickle.dumps(lc)
    assert pickle.loads(pickle.dumps(li)).get_query_embedding("q")
