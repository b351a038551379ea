"""Warnings that point at the user's line, whichever entry point they came through.

A warning raised while options are validated sits below a varying number of
frames (an adapter's ``__init__``, pydantic's ``__init__`` or ``__setattr__``,
LlamaIndex or LangChain plumbing, ``create_client``), so no fixed
``stacklevel`` is right for all of them: walk out of those frames instead.
"""

from __future__ import annotations

import sys
import warnings

__all__ = ["warn_user"]

# Modules whose frames are never the user's line.
_LIBRARY_PREFIXES = (
    "dashscope_embeddings.",
    "pydantic.",
    "pydantic_core.",
    "llama_index.",
    "langchain_core.",
)


def _is_library(module: str) -> bool:
    return module.startswith(_LIBRARY_PREFIXES) or module == "dashscope_embeddings"


def warn_user(message: str, category: type[Warning]) -> None:
    """``warnings.warn`` attributed to the first frame outside the libraries above."""
    frame = sys._getframe(1)
    level = 1  # warnings.warn's count, starting at the caller of warn_user
    while frame.f_back is not None and _is_library(frame.f_globals.get("__name__", "")):
        frame = frame.f_back
        level += 1
    warnings.warn(message, category, stacklevel=level + 1)
