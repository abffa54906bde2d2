"""Fusing a dense and a BM25 ranking into one: a weighted mix of min-max normalised scores.

Chosen on every dev set by ``python -m bench.fusion`` (docs/fusion.md): the mix with BM25 at
weight 0.3 beats dense search on all four sets, where reciprocal rank fusion loses on one.
"""

from __future__ import annotations

from collections.abc import Mapping

#: BM25's share of the fused score (dense search has the rest).
BM25_WEIGHT = 0.3


def _normalised(scores: Mapping[str, float]) -> dict[str, float]:
    """Scores scaled to [0, 1] over this ranking (all 1.0 when they are equal)."""
    if not scores:
        return {}
    lo, hi = min(scores.values()), max(scores.values())
    return {k: (v - lo) / (hi - lo) if hi > lo else 1.0 for k, v in scores.items()}


def score_mix(dense: Mapping[str, float], lexical: Mapping[str, float],
              weight: float = BM25_WEIGHT) -> list[tuple[str, float]]:
    """``(id, (1 - weight)·dense + weight·bm25)`` best first, each side min-max normalised over
    its own candidates; an id missing from one side scores 0 there. Ties keep first-seen order."""
    d, b = _normalised(dense), _normalised(lexical)
    fused = {k: (1 - weight) * d.get(k, 0.0) + weight * b.get(k, 0.0) for k in {**d, **b}}
    return sorted(fused.items(), key=lambda kv: -kv[1])
