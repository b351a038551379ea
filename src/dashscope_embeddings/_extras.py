"""The error for an adapter imported without its framework installed."""

from __future__ import annotations

__all__ = ["missing_extra"]


def missing_extra(error: ModuleNotFoundError, package: str, extra: str) -> ModuleNotFoundError:
    """``error`` reworded to name the extra to install, when ``package`` is what is missing.

    A missing module that is not the framework itself (a broken install of it,
    say) keeps its own error: the extra would not fix it.
    """
    missing = error.name or ""
    if missing != package and not missing.startswith(f"{package}."):
        return error
    return ModuleNotFoundError(
        f"dashscope_embeddings.{extra.replace('-', '_')} needs {package}, which is not "
        f'installed: pip install "dashscope-embeddings[{extra}]"',
        name=missing,
    )
