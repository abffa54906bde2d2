"""searchr3: Search-R3 embeddings (reason, then embed at ``<|embed_token|>``) and retrieval.

Names are imported on first use, so ``import searchr3`` stays light and parts that need
LangChain or Chroma load them only when asked for.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from searchr3.config import DEFAULT_MODEL, ModelConfig
from searchr3.errors import (
    AdapterMismatchError,
    FingerprintMismatchError,
    IndexBusyError,
    IndexNotFoundError,
    InputTooLongError,
    InvalidInputError,
    ModelLoadError,
    ModelNotFoundError,
    SearchR3Error,
)
from searchr3.model.prompts import EMBED_TOKEN

_LAZY = {
    "Embedder": "embedding.embedder",
    "Encoded": "embedding.embedder",
    "ReasonedQuery": "embedding.embedder",
    "Sampling": "embedding.reasoning",
    "SearchR3Retriever": "integrations.langchain_retriever",
    "LocalChatModel": "answers.local_chat",
    "RankedHit": "retrieval.searcher",
    "SearchResult": "retrieval.searcher",
    "Searcher": "retrieval.searcher",
    "SearchOptions": "retrieval.options",
    "SearchR3Embeddings": "integrations.langchain_embeddings",
    "SearchR3EmbeddingFunction": "integrations.chroma_function",
}

if TYPE_CHECKING:  # pragma: no cover
    from searchr3.answers.local_chat import LocalChatModel
    from searchr3.embedding.embedder import Embedder, Encoded, ReasonedQuery
    from searchr3.embedding.reasoning import Sampling
    from searchr3.integrations.chroma_function import SearchR3EmbeddingFunction
    from searchr3.integrations.langchain_embeddings import SearchR3Embeddings
    from searchr3.integrations.langchain_retriever import SearchR3Retriever
    from searchr3.retrieval.options import SearchOptions
    from searchr3.retrieval.searcher import RankedHit, Searcher, SearchResult


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'searchr3' has no attribute {name!r}")


__all__ = [
    "DEFAULT_MODEL", "EMBED_TOKEN", "AdapterMismatchError", "Embedder", "Encoded", "FingerprintMismatchError",
    "IndexBusyError", "IndexNotFoundError", "InputTooLongError", "InvalidInputError", "LocalChatModel",
    "ModelConfig", "ModelLoadError", "ModelNotFoundError", "RankedHit", "ReasonedQuery", "Sampling",
    "SearchOptions", "SearchR3EmbeddingFunction", "SearchR3Embeddings", "SearchR3Error", "SearchR3Retriever",
    "SearchResult", "Searcher",
]
