"""``SearchR3EmbeddingFunction``: the embedder as a Chroma embedding function named ``searchr3``.

Importing this module registers it, so a collection created with it can be reopened (its
configuration stores the name and :meth:`get_config`) by any process that imports searchr3.
"""

from __future__ import annotations

from dataclasses import asdict, fields
from typing import Any

import numpy as np
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings, Space
from chromadb.utils.embedding_functions import register_embedding_function

from searchr3.config import ModelConfig
from searchr3.embedding.embedder import Embedder

_CONFIG_KEYS = {"model", "reasoning"}
_MODEL_KEYS = {f.name for f in fields(ModelConfig)}


@register_embedding_function
class SearchR3EmbeddingFunction(EmbeddingFunction[Documents]):
    """Documents through the document prompt; queries (``embed_query``, which Chroma uses for
    ``query_texts``) through the query prompt, after a reasoning trace when ``reasoning``.

    Example::

        import chromadb
        from searchr3 import SearchR3EmbeddingFunction
        notes = chromadb.PersistentClient("db").get_or_create_collection(
            "notes", embedding_function=SearchR3EmbeddingFunction())
    """

    def __init__(self, config: ModelConfig | None = None, reasoning: bool = False, embedder: Embedder | None = None):
        self.config = config or (embedder.config if embedder else ModelConfig())
        self.reasoning = bool(reasoning)
        self.embedder = embedder or Embedder.shared(self.config)

    @staticmethod
    def name() -> str:
        return "searchr3"

    def __call__(self, input: Documents) -> Embeddings:
        return list(self.embedder.embed_documents(list(input))) if len(input) else []

    def embed_query(self, input: Documents) -> Embeddings:
        vectors = self.embedder.embed_queries(list(input), reasoning=self.reasoning) if len(input) else []
        return [np.asarray(v, dtype=np.float32) for v in vectors]

    def default_space(self) -> Space:
        return "cosine"  # vectors are unit length: cosine and inner product agree

    def supported_spaces(self) -> list[Space]:
        return ["cosine", "ip", "l2"]

    def get_config(self) -> dict[str, Any]:
        return {"model": asdict(self.config), "reasoning": self.reasoning}

    @staticmethod
    def validate_config(config: dict[str, Any]) -> None:
        unknown = set(config) - _CONFIG_KEYS
        unknown_model = set(config.get("model") or {}) - _MODEL_KEYS
        if unknown or unknown_model:
            raise ValueError(f"searchr3 embedding function: unknown config keys {sorted(unknown | unknown_model)}")

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> SearchR3EmbeddingFunction:
        SearchR3EmbeddingFunction.validate_config(config)
        return SearchR3EmbeddingFunction(ModelConfig(**(config.get("model") or {})), config.get("reasoning", False))
