"""searchr3: Search-R3 embeddings (reason, then embed at ``<|embed_token|>``) and retrieval.

Names are imported on first use, so ``import searchr3`` stays light and parts that need
LangChain or Chroma load them only when asked for.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from .config import DEFAULT_MODEL, ModelConfig
from .errors import (
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
from .prompts import EMBED_TOKEN

_LAZY = {
    "Embedder": "embedder",
    "Encoded": "embedder",
    "ReasonedQuery": "embedder",
    "Sampling": "reasoning",
    "SearchR3Retriever": "retriever",
    "LocalChatModel": "chat",
    "RankedHit": "search",
    "SearchResult": "search",
    "Searcher": "search",
    "SearchOptions": "search_options",
    "SearchR3Embeddings": "langchain_embeddings",
    "SearchR3EmbeddingFunction": "chroma_function",
}

if TYPE_CHECKING:  # pragma: no cover
    from .chat import LocalChatModel
    from .chroma_function import SearchR3EmbeddingFunction
    from .embedder import Embedder, Encoded, ReasonedQuery
    from .langchain_embeddings import SearchR3Embeddings
    from .reasoning import Sampling
    from .retriever import SearchR3Retriever
    from .search import RankedHit, Searcher, SearchResult
    from .search_options import SearchOptions


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
