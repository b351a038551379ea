"""Importing an adapter without its framework names the extra to install."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from _scripts import ROOT

# ``None`` in sys.modules makes Python refuse the import, as if not installed.
SCRIPT = """
import sys
sys.modules[{blocked!r}] = None
try:
    import {adapter}
except ModuleNotFoundError as error:
    print(type(error).__name__, error.name)
    print(error)
else:
    print("imported")
"""


@pytest.mark.parametrize(
    ("adapter", "blocked", "extra"),
    [
        ("dashscope_embeddings.langchain", "langchain_core", "langchain"),
        ("dashscope_embeddings.llama_index", "llama_index", "llama-index"),
        ("dashscope_embeddings.llama_index", "llama_index.core", "llama-index"),
    ],
)
def test_adapter_without_its_framework_names_the_extra(
    adapter: str, blocked: str, extra: str
) -> None:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(SCRIPT.format(adapter=adapter, blocked=blocked))],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    kind, message = done.stdout.splitlines()
    # Still a ModuleNotFoundError (code catching it keeps working), now with the fix.
    assert kind.startswith(f"ModuleNotFoundError {blocked}")
    assert f'pip install "dashscope-embeddings[{extra}]"' in message
