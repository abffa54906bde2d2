"""The RL environment: the corpus and its index of document vectors under a changing policy.

The policy changes every RL step, so stored document vectors go stale. Re-encoding the
whole corpus each step is what an exact environment would do; Search-R3 instead keeps the
corpus in a k-nearest-neighbour graph and re-encodes only the local region a batch touches:
its positives, their graph neighbours, and the top candidates its queries retrieve; every
``full_every`` steps it re-encodes everything and rebuilds the graph.

A positive's rank changes only where a stale document's score crosses the positive's fresh
score. The region's re-encoded rows show how far scores moved per step of staleness (the
drift rate); with ``band`` > 0 a second pass also re-encodes every stale document whose score
lies within ``band`` x rate x its own staleness of a positive's score (at most
``band_limit`` of them, the closest first), which is where the crossings are.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from searchr3.retrieval.topk import top_k

from .pairs import Pair

Encode = Callable[[Sequence[int]], np.ndarray]  # document indices -> unit vectors [n, dim]
_BLOCK = 4096


@dataclass(frozen=True)
class Corpus:
    """The RL corpus: unique document texts, the training pairs drawn, each one's positive."""

    docs: list[str]
    pairs: list[Pair]
    positive: list[int]

    @classmethod
    def from_pairs(cls, pairs: list[Pair], n: int, seed: int) -> Corpus:
        """``n`` pairs drawn with ``seed``; their positives and negatives, deduplicated."""
        chosen = list(range(len(pairs)))
        random.Random(seed).shuffle(chosen)
        picked = [pairs[i] for i in chosen[: max(1, n)]]
        index: dict[str, int] = {}
        for text in [p.positive for p in picked] + [x for p in picked for x in p.negatives]:
            index.setdefault(text, len(index))
        return cls(list(index), picked, [index[p.positive] for p in picked])


def knn_graph(vectors: np.ndarray, k: int, rows: Sequence[int] | None = None) -> np.ndarray:
    """Indices ``[len(rows), k]`` of each row's ``k`` most similar other vectors (cosine)."""
    rows = np.arange(len(vectors)) if rows is None else np.asarray(rows)
    k = min(k, len(vectors) - 1)
    out = np.empty((len(rows), k), dtype=np.int64)
    for start in range(0, len(rows), _BLOCK):
        block = rows[start : start + _BLOCK]
        sims = vectors[block] @ vectors.T
        sims[np.arange(len(block)), block] = -np.inf  # not its own neighbour
        out[start : start + len(block)] = top_k(sims, k)
    return out


@dataclass(frozen=True)
class Refresh:
    """What one refresh re-encoded: the row indices, and whether it was a full refresh."""

    rows: np.ndarray
    full: bool


class CorpusEnvironment:
    """Document vectors of a corpus, refreshed locally as the policy changes.

    Args:
        encode: embeds documents (by index) with the *current* policy.
        n_docs: corpus size.
        neighbours: graph degree k.
        candidates: top retrieved documents per query added to the refreshed region.
        full_every: every this many refreshes, re-encode everything (0: never).
        band: also re-encode stale documents within this multiple of the observed score
            drift of a positive's score (0: off).
        band_limit: at most this many extra documents per refresh from the band.
        vectors: start from these document vectors instead of encoding the corpus.
    """

    def __init__(self, encode: Encode, n_docs: int, neighbours: int = 8, candidates: int = 8, full_every: int = 10,
                 band: float = 0.0, band_limit: int = 32, vectors: np.ndarray | None = None):
        self.encode = encode
        self.n_docs = n_docs
        self.neighbours = neighbours
        self.candidates = candidates
        self.full_every = full_every
        self.band = band
        self.band_limit = band_limit
        self.steps = 0
        start = encode(range(n_docs)) if vectors is None else vectors
        self.vectors = np.array(start, dtype=np.float32)  # a copy: refreshes write into it
        self.encoded_at = np.zeros(n_docs, dtype=np.int64)  # the refresh step that last encoded each row
        self.graph = knn_graph(self.vectors, neighbours)

    def region(self, positives: Sequence[int], query_vectors: np.ndarray | None = None) -> np.ndarray:
        """Rows a batch touches: positives, their graph neighbours, and each query's top
        ``candidates`` under the current (stale) vectors. Sorted, unique."""
        rows = set(int(p) for p in positives)
        for p in positives:
            rows.update(int(j) for j in self.graph[p])
        if query_vectors is not None and len(query_vectors) and self.candidates > 0:
            rows.update(int(j) for j in self.top(query_vectors, self.candidates).ravel())
        return np.array(sorted(rows), dtype=np.int64)

    def refresh(self, positives: Sequence[int], query_vectors: np.ndarray | None = None) -> Refresh:
        """Re-encode the batch's region (or everything, every ``full_every`` steps) and patch the graph.

        ``positives[i]`` is the positive of ``query_vectors[i]`` when both are given."""
        self.steps += 1
        if self.full_every and self.steps % self.full_every == 0:
            return self.refresh_full()
        rows = self.region(positives, query_vectors)
        stale, ages = self.vectors[rows].copy(), self.steps - self.encoded_at[rows]
        self._encode_rows(rows)
        if self.band > 0 and query_vectors is not None and len(query_vectors):
            extra = self.band_rows(np.atleast_2d(query_vectors), np.asarray(positives), rows, stale, ages)
            if len(extra):
                self._encode_rows(extra)
                rows = np.union1d(rows, extra)
        self.graph[rows] = knn_graph(self.vectors, self.neighbours, rows)
        return Refresh(rows, False)

    def _encode_rows(self, rows: np.ndarray) -> None:
        self.vectors[rows] = self.encode(rows.tolist())
        self.encoded_at[rows] = self.steps

    def band_rows(self, queries: np.ndarray, positives: np.ndarray, fresh: np.ndarray, stale: np.ndarray,
                  ages: np.ndarray) -> np.ndarray:
        """Stale rows whose score could have crossed a positive's. The drift rate per query is
        the largest score change per step of staleness on the just re-encoded rows ``fresh``
        (their old vectors ``stale``, ``ages`` steps old); a row is in the band when its score
        lies within ``band`` x rate x its own staleness of the positive's score."""
        if len(positives) != len(queries):
            raise ValueError(f"{len(positives)} positives for {len(queries)} query vectors")
        rate = (np.abs(queries @ (self.vectors[fresh] - stale).T) / np.maximum(ages, 1)).max(axis=1)  # [n_queries]
        reach = self.band * np.maximum(rate, 1e-12)[:, None] * (self.steps - self.encoded_at)[None, :]
        sims = self.scores(queries)
        gap = np.abs(sims - sims[np.arange(len(queries)), positives][:, None]) / np.maximum(reach, 1e-12)
        gap[:, fresh] = np.inf  # already fresh
        closest = gap.min(axis=0)  # per document, its smallest gap to any query's positive
        inside = np.where(closest <= 1.0)[0]
        return np.sort(inside[np.argsort(closest[inside], kind="stable")[: self.band_limit]])

    def refresh_full(self) -> Refresh:
        self.vectors = np.asarray(self.encode(range(self.n_docs)), dtype=np.float32)
        self.encoded_at[:] = self.steps
        self.graph = knn_graph(self.vectors, self.neighbours)
        return Refresh(np.arange(self.n_docs), True)

    def top(self, query_vectors: np.ndarray, k: int) -> np.ndarray:
        """Indices ``[n_queries, k]`` of the best documents for each query, best first."""
        return top_k(self.scores(query_vectors), k)

    def scores(self, query_vectors: np.ndarray) -> np.ndarray:
        """Cosine of each query with every document ``[n_queries, n_docs]``."""
        return np.atleast_2d(query_vectors) @ self.vectors.T

    def ranks(self, query_vectors: np.ndarray, positives: Sequence[int]) -> np.ndarray:
        """1-based rank of each query's positive among all documents (ties count against it)."""
        return positive_ranks(self.scores(query_vectors), positives)


def positive_ranks(scores: np.ndarray, positives: Sequence[int]) -> np.ndarray:
    """1-based rank of each row's positive in a score matrix ``[n_queries, n_docs]`` (ties count against it)."""
    own = scores[np.arange(len(positives)), np.asarray(positives)]
    return (scores >= own[:, None]).sum(axis=1)  # the positive itself counts once
