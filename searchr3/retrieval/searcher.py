"""Search over an index: dense (optionally after reasoning), or hybrid (dense and BM25 scores mixed)."""

from __future__ import annotations

from dataclasses import dataclass

from searchr3.embedding.embedder import Embedder
from searchr3.embedding.encoding import validate_texts
from searchr3.embedding.reasoning import TraceCallback
from searchr3.errors import FingerprintMismatchError
from searchr3.index.bm25 import LexicalIndex, chunk_digest
from searchr3.index.filters import matches, to_chroma
from searchr3.index.vectors import Hit, IndexLocation, VectorIndex
from searchr3.retrieval.conversation import split_search
from searchr3.retrieval.fusion import score_mix
from searchr3.retrieval.options import SearchOptions


@dataclass(frozen=True)
class RankedHit:
    """A retrieved chunk with its rank (1 = best) and the scores behind it."""

    id: str
    text: str
    metadata: dict
    rank: int
    score: float
    dense_score: float | None = None
    bm25_score: float | None = None


@dataclass(frozen=True)
class SearchResult:
    """What a search returns: the hits and, with reasoning, the model's trace."""

    query: str
    hits: list[RankedHit]
    trace: str | None = None
    query_truncated: bool = False


class Searcher:
    """Searches one collection with one embedder.

    Dense search embeds the query (after a reasoning trace with ``reasoning``); hybrid mixes
    the dense and BM25 scores of each side's ``candidates`` best (:func:`~searchr3.retrieval.fusion.score_mix`,
    the hit's ``score``); ``filter`` is a
    Chroma metadata filter applied to both. Build one over an open :class:`VectorIndex`, or
    with :meth:`open` over a location (or an existing Chroma client).
    """

    def __init__(self, embedder: Embedder, index: VectorIndex):
        if index.fingerprint != embedder.fingerprint:
            raise FingerprintMismatchError(
                f"the index at {index.location.label} was opened for model {index.fingerprint!r}, "
                f"the embedder is {embedder.fingerprint!r}"
            )
        self.embedder = embedder
        self.index = index
        self._lexical: LexicalIndex | None = None

    @classmethod
    def open(cls, embedder: Embedder, location: IndexLocation, client=None) -> Searcher:
        """A searcher over an existing collection (``IndexNotFoundError`` if there is none)."""
        return cls(embedder, VectorIndex(location, embedder.fingerprint, embedder.dim, create=False, client=client))

    def lexical(self) -> LexicalIndex:
        """The BM25 index, rebuilt when the collection has changed since it was built."""
        digest = chunk_digest(self.index)
        if self._lexical is None or self._lexical.digest != digest:
            self._lexical = LexicalIndex.in_step_with(self.index, digest)
        return self._lexical

    def _embed(self, query: str, reasoning: bool, on_trace: TraceCallback | None = None):
        if reasoning:
            (r,) = self.embedder.reason([query], on_trace=on_trace)
            return r.vector, r.trace, r.truncated
        enc = self.embedder.encode([query], role="query")
        return enc.vectors[0], None, enc.truncated[0]

    def search(self, query: str, options: SearchOptions | None = None,
               on_trace: TraceCallback | None = None, **overrides) -> SearchResult:
        """Ranked hits for ``query`` (and the trace, with reasoning).

        ``options`` (default :class:`SearchOptions`) with ``overrides`` merged on top, e.g.
        ``search(q, k=2)``; ``on_trace``: a callable that receives the trace as it is written.
        """
        o = (options or SearchOptions()).merged(**overrides)
        (query,) = validate_texts([query])
        vector, trace, cut = self._embed(query, o.reasoning, on_trace)
        depth = max(o.k, o.candidates) if o.hybrid else o.k
        dense: list[Hit] = self.index.query(vector, depth, to_chroma(o.filter))
        if not o.hybrid:
            hits = [
                RankedHit(h.id, h.text, h.metadata, r, h.score, dense_score=h.score) for r, h in enumerate(dense, 1)
            ]
            return SearchResult(query, hits, trace, cut)
        # a follow-up's context terms steer the dense vector to the topic; matched word for word they
        # pull the earlier turn's passages back over the answer, so BM25 reads the question's own words
        own_words, _ = split_search(query)
        lexical = self.lexical().search(own_words, o.candidates * (4 if o.filter else 1))
        bm25 = dict(lexical)
        found = {h.id: h for h in dense}
        missing = [i for i in bm25 if i not in found]
        stored = self.index.get(missing)
        for i in missing:
            if i in stored and matches(stored[i][1], o.filter):
                found[i] = Hit(i, stored[i][0], stored[i][1], float("nan"))
        bm25_side = dict([(i, s) for i, s in lexical if i in found][: o.candidates])
        dense_scores = {h.id: h.score for h in dense}
        fused = score_mix(dense_scores, bm25_side)[: o.k]
        hits = [
            RankedHit(i, found[i].text, found[i].metadata, r, s, dense_scores.get(i), bm25.get(i))
            for r, (i, s) in enumerate(fused, 1)
        ]
        return SearchResult(query, hits, trace, cut)
