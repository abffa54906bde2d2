"""``SearchR3Embeddings``: the embedder as a LangChain ``Embeddings`` (vector stores, retrievers)."""

from __future__ import annotations

import asyncio

from langchain_core.embeddings import Embeddings
from pydantic import BaseModel, ConfigDict, Field

from searchr3.config import ModelConfig
from searchr3.embedding.embedder import Embedder


class SearchR3Embeddings(BaseModel, Embeddings):
    """Search-R3 vectors for any LangChain vector store.

    Documents get the document prompt, queries the query prompt; with ``reasoning=True`` the
    model writes a reasoning trace before each query's embed token. Without ``embedder``, the
    model named by ``config`` is loaded once per process and shared (:meth:`Embedder.shared`).

    Example::

        from langchain_chroma import Chroma
        store = Chroma("notes", embedding_function=SearchR3Embeddings(), persist_directory="db")
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    config: ModelConfig = Field(default_factory=ModelConfig)
    reasoning: bool = False
    embedder: Embedder | None = Field(default=None, exclude=True, repr=False)

    def model_post_init(self, _context) -> None:
        if self.embedder is None:
            self.embedder = Embedder.shared(self.config)
        elif "config" not in self.model_fields_set:
            self.config = self.embedder.config  # so the config says what embeds

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Document vectors, one list of floats per text."""
        return self.embedder.embed_documents(texts).tolist() if texts else []

    def embed_query(self, text: str) -> list[float]:
        """The vector of one query (after reasoning when ``reasoning`` is set)."""
        return self.embedder.embed_query(text, reasoning=self.reasoning).tolist()

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        """:meth:`embed_documents` in a worker thread, so the event loop keeps running."""
        return await asyncio.to_thread(self.embed_documents, texts)

    async def aembed_query(self, text: str) -> list[float]:
        """:meth:`embed_query` in a worker thread."""
        return await asyncio.to_thread(self.embed_query, text)
