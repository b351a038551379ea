"""DashScope (Alibaba Cloud Model Studio) embeddings for LangChain and LlamaIndex.

Framework adapters live in ``dashscope_embeddings.langchain`` and
``dashscope_embeddings.llama_index``; importing this package imports neither
framework. The bundled emulator is ``dashscope_embeddings.emulator``.
"""

from ._catalog import CATALOG, Endpoint, Fusion, ModelSpec, UnknownModelWarning
from ._client import DashScopeClient, EmbeddingResult
from ._errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    DashScopeError,
    InputError,
    ProtocolError,
    RateLimitError,
    ResponseValidationError,
    ServerError,
)
from ._options import DashScopeOptions, create_client
from ._version import __version__

__all__ = [
    "CATALOG",
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "DashScopeClient",
    "DashScopeError",
    "DashScopeOptions",
    "EmbeddingResult",
    "Endpoint",
    "Fusion",
    "InputError",
    "ModelSpec",
    "ProtocolError",
    "RateLimitError",
    "ResponseValidationError",
    "ServerError",
    "UnknownModelWarning",
    "__version__",
    "create_client",
]
