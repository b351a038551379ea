"""Where the examples send requests: the real service or the bundled emulator.

With ``DASHSCOPE_API_KEY`` set, the examples talk to DashScope (region and
base URL from the usual ``DASHSCOPE_*`` variables). Without it they start the
emulator in-process on a free loopback port; its vectors are deterministic
stand-ins, not semantic embeddings.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

DATA = Path(__file__).parent / "data"


@contextmanager
def dashscope_backend(latency: float = 0.02) -> Iterator[dict[str, Any]]:
    """Keyword arguments that point an embedding class at the chosen backend."""
    if os.environ.get("DASHSCOPE_API_KEY"):
        print("backend: DashScope (DASHSCOPE_API_KEY is set)")
        yield {}
        return
    from dashscope_embeddings.emulator import Emulator

    with Emulator(latency=latency) as emulator:
        print(f"backend: bundled emulator at {emulator.base_url} (stand-in vectors)")
        yield {"base_url": emulator.base_url, "api_key": "emulator-key"}
