"""The trace diagnostics on real dev queries with the shipped model; traces given as text."""

import copy

import numpy as np
import pytest

from searchr3.answers.evidence import sentences
from searchr3.eval.traces import borrowed_deviations, markdown, most_confident, run


def test_a_given_trace_reads_like_the_same_trace_generated(trained):
    query = "How do I copy a file?"
    reasoned = trained.reason([query])[0]
    given = trained.embed_with_traces([query], [reasoned.trace])[0]
    assert float(given @ reasoned.vector) > 0.99
    empty = trained.embed_with_traces([query], [""])[0]
    assert np.isclose(np.linalg.norm(empty), 1.0) and float(empty @ given) < 0.999  # the trace matters
    with pytest.raises(ValueError, match="1 queries but 2 traces"):
        trained.embed_with_traces([query], ["a", "b"])


def test_every_variant_is_scored_per_query(trained, pyfaq):
    data = copy.deepcopy(pyfaq)
    keep = list(data.queries)[:6]
    data.queries = {q: data.queries[q] for q in keep}
    data.corpus = {d: data.corpus[d] for q in keep for d in data.qrels[q]} | dict(list(data.corpus.items())[:24])
    seen = []
    variants, record = run(trained, data, samples=2, seed=0, tick=lambda phase, done, total: seen.append(phase),
                           forced_samples=2)
    names = [v.name for v in variants]
    assert names[:5] == ["none (the plain query prompt)", "empty", "the query repeated",
                         "oracle: the positive's distinctive terms", "greedy (the model's own)"]
    assert any(n.startswith("sampled, best of 2") for n in names) and sum("× greedy" in n for n in names) == 3
    assert all(len(v.ndcg) == 6 and ((0 <= v.ndcg) & (v.ndcg <= 1)).all() for v in variants)
    best = next(v for v in variants if v.name.startswith("sampled, best"))
    mean = next(v for v in variants if v.name.startswith("sampled, mean"))
    assert (best.ndcg >= mean.ndcg - 1e-9).all()  # the best sample per query is never below their mean
    forced_best = next(v for v in variants if v.name.startswith("forced opening, sampled, best of 2"))
    forced_mean = next(v for v in variants if v.name.startswith("forced opening, sampled, mean of 2"))
    assert (forced_best.ndcg >= forced_mean.ndcg - 1e-9).all() and forced_best.tokens > 0
    assert {"sampled, the 2 vectors averaged", "0.75 × plain + 0.25 × sampled, averaged",
            "forced opening, sampled, the 2 vectors averaged",
            "0.50 × plain + 0.50 × forced opening, sampled, averaged"} <= set(names)
    assert variants[0].row(variants[0])[4] == "0/0"
    assert {"corpus", "greedy traces", "sampled traces"} <= set(seen)
    assert len(record["examples"]) == 6 and record["examples"][0]["oracle"].startswith("Looking for a passage")
    first = record["examples"][0]
    assert (first["ndcg_plain"], first["ndcg_greedy"]) == (round(float(variants[0].ndcg[0]), 4),
                                                           round(float(variants[4].ndcg[0]), 4))
    # feedback reads the plain search's top passage: where that is the positive, it is the oracle's trace
    top_is_positive = [e for e, mrr in zip(record["examples"], variants[0].mrr) if mrr == 1.0]
    assert top_is_positive and all(e["feedback"] == e["oracle"] for e in top_is_positive)
    assert all(e["feedback"] != e["oracle"] for e, mrr in zip(record["examples"], variants[0].mrr) if mrr < 1.0)
    assert all(e["forced_opening"].startswith("Looking for a passage that mentions ") for e in record["examples"])
    assert all(len(sentences(e["forced_opening"])) == 1 for e in record["examples"])  # its first sentence only
    assert {"feedback", "forced opening"} <= {v.name.split(":")[0].split(" '")[0] for v in variants}
    # greedy, feedback, forced opening, and the averaged free and forced samples
    assert sum(n.startswith("0.75 × plain + 0.25 × ") for n in names) == 6
    assert "most confident of plain + 2 forced samples (widest top-1 margin)" in names
    control = next(v for v in variants if v.name.startswith("noise control: best of 2"))
    assert control.name.endswith("another query's deviations") and len(control.ndcg) == 6
    assert {"forced-opening traces", "forced opening, sampled traces"} <= set(seen)
    table = markdown(variants, "pyfaq")
    assert table.count("\n|") == len(variants) + 2  # header, rule, one row per variant


def test_most_confident_takes_the_widest_top_one_margin():
    docs = np.eye(3)
    plain = np.array([[0.6, 0.8, 0.0], [1.0, 0.0, 0.0]])  # margins 0.2 and 1.0
    samples = np.array([[[0.8, 0.6, 0.0], [0.0, 0.0, 1.0]],  # margins 0.2 and 1.0
                        [[0.0, 0.6, 0.8], [0.7, 0.7, 0.14]]])  # margins 0.2 and 0.0
    chosen = most_confident(plain, samples, docs)
    assert np.array_equal(chosen, [samples[0, 1], plain[1]])  # a sample where it is surer, else plain
    assert np.array_equal(most_confident(plain, samples, docs, with_plain=False), [samples[0, 1], samples[1, 0]])


def test_the_noise_control_keeps_each_mean_and_borrows_another_querys_spread():
    rng = np.random.default_rng(1)
    samples = rng.normal(size=(5, 3, 8))
    mean = samples.mean(1, keepdims=True)
    control = borrowed_deviations(samples, seed=0)
    assert np.allclose(np.linalg.norm(control, axis=-1), 1.0)
    donors = []
    for q in range(5):  # the control is the unit vector of this query's mean + one other query's deviations
        matches = [d for d in range(5) if np.allclose(control[q], _unit(mean[q] + samples[d] - mean[d]))]
        assert len(matches) == 1 and matches[0] != q
        donors.append(matches[0])
    assert sorted(donors) == list(range(5))  # every query's spread is lent exactly once
    assert np.array_equal(control, borrowed_deviations(samples, seed=0))


def _unit(v):
    return v / np.linalg.norm(v, axis=-1, keepdims=True)
