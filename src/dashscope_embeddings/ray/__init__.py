"""Embedding a corpus with Ray Data: ``Dataset.map_batches(DashScopeEmbedder, ...)``.

Needs the ``ray`` extra (``pip install "dashscope-embeddings[ray]"``). All
workers of the cluster share one quota (``requests_per_minute``,
``tokens_per_minute``) held by a small Ray actor, and one adaptive slow-down
on 429s.
"""

try:
    import ray
    import ray.data  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        'dashscope_embeddings.ray needs Ray Data: pip install "dashscope-embeddings[ray]"'
    ) from exc

from ._stage import DashScopeEmbedder

__all__ = ["DashScopeEmbedder"]
