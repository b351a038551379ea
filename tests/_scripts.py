"""Running the project's scripts as users run them: a subprocess with no key."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_script(
    *args: str,
    timeout: float = 240,
    cwd: Path = ROOT,
    env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """``python *args`` (from the repository root), without DashScope or OpenAI settings
    but for those in ``env``.

    Without a key the scripts use the bundled emulator; an example that reached
    for OpenAI (LlamaIndex's default model) would fail loudly.
    """
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("DASHSCOPE_") and k != "OPENAI_API_KEY"
    }
    return subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        env={**clean, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def run_example(name: str) -> list[str]:
    done = run_script(f"examples/{name}", timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "bundled emulator" in done.stdout
    return done.stdout.splitlines()


def top_hit(lines: list[str], question: str) -> str:
    """The first ranked line after ``Q: question``."""
    start = lines.index(f"Q: {question}")
    first = lines[start + 1].strip()
    assert first.startswith("1. "), lines[start : start + 3]
    return first
