"""The emulator installed without Pillow (only ``[langchain]``) still embeds valid images."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from dashscope_embeddings.emulator import Emulator
from dashscope_embeddings.langchain import DashScopeEmbeddings


def test_images_embed_without_pillow(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # None in sys.modules makes every `import PIL` / `from PIL import Image` fail.
    for name in [m for m in sys.modules if m == "PIL" or m.startswith("PIL.")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "PIL", None)
    with pytest.raises(ImportError):
        from PIL import Image  # noqa: F401

    # Not the session emulator: it remembers the images it decoded, so one it
    # saw with Pillow would not be decoded here, and these, decoded without
    # Pillow, would have no colours for the tests after this one.
    with Emulator() as emu:
        emb = DashScopeEmbeddings(base_url=emu.base_url, api_key="k", dimension=256)
        apple, sea = (str(data_dir / name) for name in ("red_apple.png", "blue_sea.jpg"))
        first = emb.embed_image(uris=[apple, sea, apple])
        again = emb.embed_image(uris=[apple])
        assert [r.status for r in emu.requests] == [200, 200]
    assert [len(v) for v in first] == [256, 256, 256]
    assert first[0] == first[2] == again[0]  # deterministic per image
    assert first[0] != first[1]  # and distinct between images
