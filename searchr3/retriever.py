"""``SearchR3Retriever``: a LangChain retriever over a searchr3 index."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForRetrieverRun, CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict, Field, PrivateAttr

from .config import ModelConfig
from .embedder import Embedder
from .index import DEFAULT_COLLECTION, IndexLocation
from .search import Searcher, SearchResult


class SearchR3Retriever(BaseRetriever):
    """Retrieves chunks from a searchr3 index with the Search-R3 model.

    Fields: ``k``; ``reasoning`` (the model reasons before embedding the query; the trace
    is in every document's ``metadata["reasoning_trace"]`` and from :meth:`search`);
    ``hybrid`` (dense + BM25 fused by reciprocal rank); ``filter`` (a Chroma ``where``
    dict on chunk metadata such as ``source`` or ``file_name``); the index location
    (``db_path`` for an embedded index, or ``chroma_host``/``chroma_port``, and
    ``collection``); and the model (``embedder``, or ``model_settings`` to load one).

    Documents carry ``source``, ``position``, ``heading``/``page`` where known, ``id``,
    ``score`` and ``rank`` in their metadata.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    k: int = Field(default=4, ge=1)
    reasoning: bool = False
    hybrid: bool = False
    filter: dict[str, Any] | None = None
    db_path: str | None = None
    chroma_host: str | None = None
    chroma_port: int = 8000
    collection: str = DEFAULT_COLLECTION
    embedder: Embedder | None = None
    model_settings: ModelConfig = Field(default_factory=ModelConfig)

    _searcher: Searcher | None = PrivateAttr(default=None)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    @property
    def location(self) -> IndexLocation:
        if self.chroma_host:
            return IndexLocation.server(self.chroma_host, self.chroma_port, self.collection)
        return IndexLocation.embedded(self.db_path, self.collection)

    def searcher(self) -> Searcher:
        """The underlying :class:`Searcher` (loads the model on first use)."""
        with self._lock:
            if self._searcher is None:
                if self.embedder is None:
                    self.embedder = Embedder.load(self.model_settings)
                self._searcher = Searcher(self.embedder, self.location)
            return self._searcher

    def search(self, query: str, **overrides: Any) -> SearchResult:
        """Trace (with reasoning on) and ranked hits for ``query``.

        ``overrides`` may replace ``k``, ``reasoning``, ``hybrid`` or ``filter`` for this call.
        """
        unknown = set(overrides) - {"k", "reasoning", "hybrid", "filter"}
        if unknown:
            raise TypeError(f"unknown search option(s): {', '.join(sorted(unknown))}")
        o = {"k": self.k, "reasoning": self.reasoning, "hybrid": self.hybrid, "filter": self.filter, **overrides}
        return self.searcher().search(query, o["k"], o["reasoning"], o["hybrid"], o["filter"])

    @staticmethod
    def to_documents(result: SearchResult) -> list[Document]:
        docs = []
        for hit in result.hits:
            meta = dict(hit.metadata)
            meta.update(id=hit.id, score=hit.score, rank=hit.rank)
            if hit.dense_score is not None:
                meta["dense_score"] = hit.dense_score
            if hit.bm25_score is not None:
                meta["bm25_score"] = hit.bm25_score
            if result.trace is not None:
                meta["reasoning_trace"] = result.trace
            docs.append(Document(page_content=hit.text, metadata=meta, id=hit.id))
        return docs

    def search_with_trace(self, query: str, **overrides: Any) -> tuple[str | None, list[Document]]:
        """``(reasoning trace or None, documents)`` for ``query``."""
        result = self.search(query, **overrides)
        return result.trace, self.to_documents(result)

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun, **overrides: Any) -> list[Document]:
        return self.to_documents(self.search(query, **overrides))

    async def _aget_relevant_documents(
        self, query: str, *, run_manager: AsyncCallbackManagerForRetrieverRun, **overrides: Any
    ) -> list[Document]:
        # The model runs on CPU threads; keep the event loop free while it works.
        return await asyncio.to_thread(lambda: self.to_documents(self.search(query, **overrides)))
