"""Every ```python block of README.md runs as printed, against the emulator.

Each block runs alone in a fresh interpreter from the repository root (where
``examples/data`` is), with ``DASHSCOPE_BASE_URL`` / ``DASHSCOPE_API_KEY``
pointing at the emulator, as a reader who exported them would run it. A block
that is not meant to run on its own must use another fence (``py-fragment``,
``text``).
"""

from __future__ import annotations

import re

import pytest

from _scripts import ROOT, run_script
from dashscope_embeddings.emulator import Emulator

README = ROOT / "README.md"
_BLOCK = re.compile(r"^```python\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def _blocks() -> list[tuple[str, str]]:
    """(id, code) per block; the id is the heading above it and its line number."""
    text = README.read_text(encoding="utf-8")
    found = []
    for match in _BLOCK.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        headings = re.findall(r"^#+ (.+)$", text[: match.start()], re.MULTILINE)
        title = headings[-1] if headings else "top"
        found.append((f"line {line}: {title}", match.group(1)))
    return found


BLOCKS = _blocks()


def test_the_readme_has_python_blocks() -> None:
    assert len(BLOCKS) >= 8


@pytest.mark.parametrize("code", [code for _, code in BLOCKS], ids=[i for i, _ in BLOCKS])
def test_readme_block_runs_as_printed(code: str, emu: Emulator) -> None:
    done = run_script(
        "-c",
        code,
        timeout=120,
        env={"DASHSCOPE_BASE_URL": emu.base_url, "DASHSCOPE_API_KEY": "readme-key"},
    )
    assert done.returncode == 0, done.stderr[-3000:]
