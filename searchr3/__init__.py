"""searchr3: Search-R3 embeddings (reason, then embed at ``<|embed_token|>``) and retrieval."""

from .config import DEFAULT_MODEL, ModelConfig
from .embedder import Embedder, Encoded, ReasonedQuery
from .errors import (
    AdapterMismatchError,
    FingerprintMismatchError,
    IndexNotFoundError,
    InvalidInputError,
    ModelLoadError,
    ModelNotFoundError,
    SearchR3Error,
)
from .prompts import EMBED_TOKEN
from .reasoning import Sampling
from .retriever import SearchR3Retriever
from .search import RankedHit, Searcher, SearchResult

__all__ = [
    "DEFAULT_MODEL",
    "EMBED_TOKEN",
    "AdapterMismatchError",
    "Embedder",
    "Encoded",
    "FingerprintMismatchError",
    "IndexNotFoundError",
    "InvalidInputError",
    "ModelConfig",
    "ModelLoadError",
    "ModelNotFoundError",
    "ReasonedQuery",
    "RankedHit",
    "Sampling",
    "SearchR3Retriever",
    "SearchResult",
    "Searcher",
    "SearchR3Error",
]
