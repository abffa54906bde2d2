"""Ranking a dataset's corpus for its queries with each method, in memory.

Every method builds its own throw-away index (a matrix of vectors, or BM25 over the
corpus) and never touches a user's index. Dense search here is exact (a dot product).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from searchr3.config import ModelConfig
from searchr3.embedding.embedder import Embedder
from searchr3.eval.beir import Dataset
from searchr3.eval.sentence_encoders import load_sentence_encoder
from searchr3.index.bm25 import LexicalIndex
from searchr3.retrieval.fusion import score_mix
from searchr3.retrieval.topk import top_k

METHODS = ("searchr3", "bm25", "minilm", "mpnet", "hybrid")
DEPTH = 100
_CORPUS_GROUP = 64


@dataclass
class Run:
    """Rankings ``{query id: [doc id, ...]}`` with timings and what produced them; ``scores``
    (``{query id: {doc id: score}}``) where a hybrid run needs them."""

    rankings: dict[str, list[str]]
    model: str
    seconds_index: float = 0.0
    seconds_queries: float = 0.0
    traces: dict[str, str] = field(default_factory=dict)
    scores: dict[str, dict[str, float]] = field(default_factory=dict)


Tick = Callable[[str, int, int], None]  # (phase, done, total)


def _no_tick(phase: str, done: int, total: int) -> None:
    pass


def _top(scores: np.ndarray, ids: list[str], depth: int) -> list[list[str]]:
    return [[ids[j] for j in row] for row in top_k(scores, depth)]


def _grouped(fn, items: list[str], phase: str, tick: Tick, group: int) -> np.ndarray:
    parts = []
    for start in range(0, len(items), group):
        parts.append(fn(items[start : start + group]))
        tick(phase, min(start + group, len(items)), len(items))
    return np.concatenate(parts) if parts else np.zeros((0, 0), np.float32)


def dense_searchr3(
    data: Dataset, config: ModelConfig, reasoning: bool, tick: Tick = _no_tick, embedder: Embedder | None = None
) -> Run:
    embedder = embedder or Embedder.load(config)
    if not reasoning:
        embedder.query_embedder  # noqa: B018  (a query adapter loads now, outside the timings)
    doc_ids = list(data.corpus)
    t0 = time.perf_counter()
    docs = _grouped(embedder.embed_documents, [data.doc_text(d) for d in doc_ids], "corpus", tick, _CORPUS_GROUP)
    t1 = time.perf_counter()
    q_ids = list(data.queries)
    texts = [data.queries[q] for q in q_ids]
    traces: dict[str, str] = {}
    if reasoning:
        group = max(embedder.config.max_batch_size, 1)
        vectors = []
        for start in range(0, len(texts), group):
            for q, r in zip(q_ids[start : start + group], embedder.reason(texts[start : start + group])):
                traces[q] = r.trace
                vectors.append(r.vector)
            tick("queries", min(start + group, len(texts)), len(texts))
        queries = np.stack(vectors)
    else:
        queries = _grouped(embedder.embed_queries, texts, "queries", tick, _CORPUS_GROUP)
    t2 = time.perf_counter()
    sims = queries @ docs.T
    rankings, scores = {}, {}
    for q, row, top in zip(q_ids, sims, top_k(sims, DEPTH)):
        rankings[q] = [doc_ids[j] for j in top]
        scores[q] = {doc_ids[j]: float(row[j]) for j in top}
    model = embedder.fingerprint + "|reasoning" if reasoning else embedder.query_fingerprint
    return Run(rankings, model, t1 - t0, t2 - t1, traces, scores)


def bm25(data: Dataset, tick: Tick = _no_tick) -> Run:
    t0 = time.perf_counter()
    doc_ids = list(data.corpus)
    lexical = LexicalIndex(doc_ids, [data.doc_text(d) for d in doc_ids])
    t1 = time.perf_counter()
    scores = {q: dict(lexical.search(text, DEPTH)) for q, text in data.queries.items()}
    tick("queries", len(data.queries), len(data.queries))
    rankings = {q: list(found) for q, found in scores.items()}
    return Run(rankings, "bm25s (English stop words)", t1 - t0, time.perf_counter() - t1, scores=scores)


#: Sentence-transformers baselines: method (the encoder in :mod:`searchr3.eval.sentence_encoders`) → model label.
ENCODER_METHODS = {"minilm": "all-MiniLM-L6-v2", "mpnet": "all-mpnet-base-v2"}


def sentence_encoder(method: str, data: Dataset, tick: Tick = _no_tick) -> Run:
    """Rank with a shipped sentence-transformers encoder (:data:`ENCODER_METHODS`)."""
    model = load_sentence_encoder(method)
    encode = lambda texts: model.encode(texts, normalize_embeddings=True, convert_to_numpy=True, batch_size=32)  # noqa: E731
    doc_ids = list(data.corpus)
    t0 = time.perf_counter()
    docs = _grouped(encode, [data.doc_text(d) for d in doc_ids], "corpus", tick, _CORPUS_GROUP)
    t1 = time.perf_counter()
    q_ids = list(data.queries)
    queries = _grouped(encode, [data.queries[q] for q in q_ids], "queries", tick, _CORPUS_GROUP)
    t2 = time.perf_counter()
    return Run(dict(zip(q_ids, _top(queries @ docs.T, doc_ids, DEPTH))), ENCODER_METHODS[method], t1 - t0, t2 - t1)


def hybrid(
    data: Dataset, config: ModelConfig, reasoning: bool, tick: Tick = _no_tick, embedder: Embedder | None = None
) -> Run:
    dense = dense_searchr3(data, config, reasoning, tick, embedder)
    lexical = bm25(data)
    rankings = {q: [d for d, _ in score_mix(dense.scores[q], lexical.scores.get(q, {}))][:DEPTH] for q in data.queries}
    return Run(rankings, dense.model + "+bm25 (score mix)", dense.seconds_index + lexical.seconds_index,
               dense.seconds_queries + lexical.seconds_queries, dense.traces)


def run_method(method: str, data: Dataset, config: ModelConfig, reasoning: bool = False, tick: Tick = _no_tick) -> Run:
    """Rank ``data`` with ``method`` (one of :data:`METHODS`)."""
    if method == "searchr3":
        return dense_searchr3(data, config, reasoning, tick)
    if method == "hybrid":
        return hybrid(data, config, reasoning, tick)
    if reasoning:
        raise ValueError(f"--reasoning applies to searchr3 and hybrid, not {method}")
    if method == "bm25":
        return bm25(data, tick)
    if method in ENCODER_METHODS:
        return sentence_encoder(method, data, tick)
    raise ValueError(f"unknown method {method!r}; choose from {', '.join(METHODS)}")
