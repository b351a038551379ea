"""LangChain's own standard suites for Embeddings, run against the bundled emulator."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest
from langchain_tests.integration_tests import EmbeddingsIntegrationTests
from langchain_tests.unit_tests import EmbeddingsUnitTests

from dashscope_embeddings.langchain import DashScopeEmbeddings


class TestDashScopeEmbeddingsUnit(EmbeddingsUnitTests):
    @property
    def embeddings_class(self) -> type[DashScopeEmbeddings]:
        return DashScopeEmbeddings

    @property
    def embedding_model_params(self) -> dict[str, Any]:
        # No key and no network: construction alone must work.
        return {"model": "text-embedding-v4", "dimension": 512}

    @property
    def init_from_env_params(self) -> tuple[dict[str, str], dict[str, Any], dict[str, Any]]:
        return (
            {
                "DASHSCOPE_API_KEY": "sk-from-env",
                "DASHSCOPE_BASE_URL": "https://dashscope-intl.aliyuncs.com/api/v1",
                "DASHSCOPE_WORKSPACE": "ws-from-env",
            },
            {"model": "qwen3-vl-embedding"},
            {
                "api_key": "sk-from-env",
                "base_url": "https://dashscope-intl.aliyuncs.com/api/v1",
                "workspace": "ws-from-env",
                "model": "qwen3-vl-embedding",
            },
        )


class _AgainstEmulator(EmbeddingsIntegrationTests):
    """The integration suite, with params built from the session emulator."""

    model_params: ClassVar[dict[str, Any]] = {}

    @pytest.fixture(autouse=True)
    def _emulator(self, emulator_options: dict[str, Any]) -> None:
        # The base URL exists only once the emulator runs; autouse fixtures
        # run before the suite's `model` fixture reads embedding_model_params.
        self._emulator_options = emulator_options

    @property
    def embeddings_class(self) -> type[DashScopeEmbeddings]:
        return DashScopeEmbeddings

    @property
    def embedding_model_params(self) -> dict[str, Any]:
        return {**self._emulator_options, **self.model_params}


class TestDashScopeEmbeddingsIntegrationQwen3VL(_AgainstEmulator):
    model_params: ClassVar[dict[str, Any]] = {"model": "qwen3-vl-embedding", "dimension": 256}


class TestDashScopeEmbeddingsIntegrationTextV4(_AgainstEmulator):
    model_params: ClassVar[dict[str, Any]] = {"model": "text-embedding-v4", "dimension": 64}
