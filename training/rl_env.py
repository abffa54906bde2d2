"""The RL environment's corpus index: document vectors under a changing policy.

The policy changes every RL step, so stored document vectors go stale. Re-encoding the
whole corpus each step is what an exact environment would do; Search-R3 instead keeps the
corpus in a k-nearest-neighbour graph and re-encodes only the local region a batch touches:
its positives, their graph neighbours, and the top candidates its queries retrieve; every
``full_every`` steps it re-encodes everything and rebuilds the graph.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from searchr3.topk import top_k

Encode = Callable[[Sequence[int]], np.ndarray]  # document indices -> unit vectors [n, dim]
_BLOCK = 4096


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
    """

    def __init__(self, encode: Encode, n_docs: int, neighbours: int = 8, candidates: int = 8, full_every: int = 10):
        self.encode = encode
        self.n_docs = n_docs
        self.neighbours = neighbours
        self.candidates = candidates
        self.full_every = full_every
        self.steps = 0
        self.vectors = np.asarray(encode(range(n_docs)), dtype=np.float32)
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
        """Re-encode the batch's region (or everything, every ``full_every`` steps) and patch the graph."""
        self.steps += 1
        if self.full_every and self.steps % self.full_every == 0:
            return self.refresh_full()
        rows = self.region(positives, query_vectors)
        self.vectors[rows] = self.encode(rows.tolist())
        self.graph[rows] = knn_graph(self.vectors, self.neighbours, rows)
        return Refresh(rows, False)

    def refresh_full(self) -> Refresh:
        self.vectors = np.asarray(self.encode(range(self.n_docs)), dtype=np.float32)
        self.graph = knn_graph(self.vectors, self.neighbours)
        return Refresh(np.arange(self.n_docs), True)

    def top(self, query_vectors: np.ndarray, k: int) -> np.ndarray:
        """Indices ``[n_queries, k]`` of the best documents for each query, best first."""
        return top_k(np.atleast_2d(query_vectors) @ self.vectors.T, k)

    def ranks(self, query_vectors: np.ndarray, positives: Sequence[int]) -> np.ndarray:
        """1-based rank of each query's positive among all documents (ties count against it)."""
        sims = np.atleast_2d(query_vectors) @ self.vectors.T
        own = sims[np.arange(len(positives)), np.asarray(positives)]
        return (sims >= own[:, None]).sum(axis=1)  # the positive itself counts once
