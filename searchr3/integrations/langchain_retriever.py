"""``SearchR3Retriever``: a LangChain retriever over a searchr3 index."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForRetrieverRun, CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict, Field

from searchr3.config import ModelConfig
from searchr3.embedding.embedder import Embedder
from searchr3.index.vectors import DEFAULT_COLLECTION, IndexLocation
from searchr3.retrieval.conversation import standalone_query
from searchr3.retrieval.options import SearchOptions
from searchr3.retrieval.searcher import Searcher, SearchResult


class SearchR3Retriever(BaseRetriever):
    """Retrieves chunks from a searchr3 index with the Search-R3 model.

    A thin layer over a :class:`~searchr3.retrieval.searcher.Searcher` and :class:`SearchOptions`::

        SearchR3Retriever(searcher=Searcher(embedder, index), options=SearchOptions(k=4))
        SearchR3Retriever.load(db_path="./db", k=4, hybrid=True)   # loads the default model

    Keyword arguments of ``invoke``/``ainvoke`` override the options for that call, as
    ``VectorStoreRetriever`` merges ``search_kwargs``: ``retriever.invoke(q, k=2, reasoning=True)``.
    Follow-up questions: pass the earlier user questions as ``history`` (oldest first), e.g.
    ``retriever.invoke("and how do I delete it?", history=["How do I create a git branch?"])``;
    the search made (question plus the earlier topic) is in each document's ``search_query``.
    Documents carry ``source``, ``position``, ``heading``/``page`` where known, ``id``, ``score``
    and ``rank`` in their metadata, and ``reasoning_trace`` when the model reasoned.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    searcher: Searcher
    options: SearchOptions = Field(default_factory=SearchOptions)

    @classmethod
    def load(cls, db_path: str | Path | None = None, *, chroma_host: str | None = None, chroma_port: int = 8000,
             collection: str = DEFAULT_COLLECTION, client=None, embedder: Embedder | None = None,
             model: ModelConfig | None = None, **options: Any) -> SearchR3Retriever:
        """A retriever over an existing collection.

        The index: an embedded one at ``db_path`` (default: the one ``python -m ingest``
        fills), a Chroma server at ``chroma_host``/``chroma_port``, or an existing Chroma
        ``client``. The model: ``embedder``, else one loaded from ``model`` (default: the
        embedded default with its shipped adapter). ``options``: :class:`SearchOptions` fields.

        Raises ``IndexNotFoundError`` when the collection does not exist.
        """
        embedder = embedder or Embedder.load(model or ModelConfig())
        location = IndexLocation.resolve(db_path, chroma_host, chroma_port, collection)
        return cls(searcher=Searcher.open(embedder, location, client), options=SearchOptions(**options))

    def search(self, query: str, history: Sequence[str] = (), **overrides: Any) -> SearchResult:
        """Trace (with reasoning on) and ranked hits for ``query``, made standalone with the
        earlier questions ``history``; ``overrides`` replace options (``k``, ``reasoning``,
        ``hybrid``, ``filter``, ``candidates``) for this call."""
        return self.searcher.search(standalone_query(query, history), self.options.merged(**overrides))

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
            meta["search_query"] = result.query
            docs.append(Document(page_content=hit.text, metadata=meta, id=hit.id))
        return docs

    def search_with_trace(self, query: str, **overrides: Any) -> tuple[str | None, list[Document]]:
        """``(reasoning trace or None, documents)`` for ``query``."""
        result = self.search(query, **overrides)
        return result.trace, self.to_documents(result)

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun,
                                **overrides: Any) -> list[Document]:
        return self.to_documents(self.search(query, **overrides))

    async def _aget_relevant_documents(
        self, query: str, *, run_manager: AsyncCallbackManagerForRetrieverRun, **overrides: Any
    ) -> list[Document]:
        # The model runs on CPU threads; keep the event loop free while it works.
        return await asyncio.to_thread(lambda: self.to_documents(self.search(query, **overrides)))
