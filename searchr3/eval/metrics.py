"""Retrieval metrics over ranked lists: nDCG@k, Recall@k, MRR@k (graded qrels)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence


def ndcg_at_k(ranking: Sequence[str], relevant: Mapping[str, int], k: int) -> float:
    """nDCG with linear gains: ``sum grade / log2(rank + 1)`` over the ideal ordering."""
    dcg = sum(relevant.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranking[:k]))
    ideal = sorted((g for g in relevant.values() if g > 0), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def recall_at_k(ranking: Sequence[str], relevant: Mapping[str, int], k: int) -> float:
    wanted = {d for d, g in relevant.items() if g > 0}
    return len(wanted & set(ranking[:k])) / len(wanted) if wanted else 0.0


def mrr_at_k(ranking: Sequence[str], relevant: Mapping[str, int], k: int) -> float:
    for i, d in enumerate(ranking[:k]):
        if relevant.get(d, 0) > 0:
            return 1.0 / (i + 1)
    return 0.0


METRICS = ("ndcg@10", "recall@10", "recall@100", "mrr@10")


def per_query(rankings: Mapping[str, Sequence[str]], qrels: Mapping[str, Mapping[str, int]]) -> dict[str, dict]:
    """Each metric of :data:`METRICS` for each query in ``qrels``: ``{metric: {query id: value}}``
    (a query without a ranking scores zero)."""
    scores: dict[str, dict] = {key: {} for key in METRICS}
    for q, rel in qrels.items():
        r = rankings.get(q, [])
        scores["ndcg@10"][q] = ndcg_at_k(r, rel, 10)
        scores["recall@10"][q] = recall_at_k(r, rel, 10)
        scores["recall@100"][q] = recall_at_k(r, rel, 100)
        scores["mrr@10"][q] = mrr_at_k(r, rel, 10)
    return scores


def averages(scores: Mapping[str, Mapping[str, float]]) -> dict[str, float]:
    """The mean of each metric of :func:`per_query`'s ``scores`` over its queries."""
    return {key: sum(values.values()) / max(len(values), 1) for key, values in scores.items()}


def evaluate(rankings: Mapping[str, Sequence[str]], qrels: Mapping[str, Mapping[str, int]]) -> dict[str, float]:
    """Mean ``ndcg@10``, ``recall@10``, ``recall@100``, ``mrr@10`` over the queries in ``qrels``
    (a query without a ranking counts as zero)."""
    return averages(per_query(rankings, qrels))
