"""The hybrid score mix: normalisation, weights, ids on one side only."""

import pytest

from searchr3.retrieval.fusion import BM25_WEIGHT, score_mix


def test_each_side_is_normalised_before_the_weighted_mix():
    dense = {"a": 0.80, "b": 0.60, "c": 0.40}  # cosines: a=1, b=0.5, c=0 once normalised
    bm25 = {"c": 12.0, "b": 2.0}  # c=1, b=0
    fused = dict(score_mix(dense, bm25))
    assert fused == pytest.approx({"a": 0.7, "b": 0.35, "c": 0.3})
    assert [i for i, _ in score_mix(dense, bm25)] == ["a", "b", "c"]
    # BM25 trusted more: its best match wins
    assert [i for i, _ in score_mix(dense, bm25, weight=0.8)][0] == "c"


def test_a_match_found_by_one_side_only_scores_zero_on_the_other():
    fused = dict(score_mix({"a": 0.9, "b": 0.1}, {"x": 3.0}))
    assert fused["x"] == pytest.approx(BM25_WEIGHT)  # a lone BM25 match counts as its best
    assert fused["a"] == pytest.approx(1 - BM25_WEIGHT) and fused["b"] == 0.0


def test_empty_sides():
    assert score_mix({}, {}) == []
    assert score_mix({"a": 0.5}, {}) == [("a", pytest.approx(1 - BM25_WEIGHT))]
