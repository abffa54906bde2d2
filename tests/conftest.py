"""Shared fixtures: the real default model, loaded once per test session."""

from __future__ import annotations

import pytest

from searchr3 import Embedder, ModelConfig


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    """The embedded default model (SmolLM2-135M-Instruct), small limits for speed."""
    return Embedder.load(ModelConfig(max_query_tokens=64, max_document_tokens=128, reasoning_tokens=24))
