"""Stage 1 with trace targets (#14): the gain filter that picks them and the trainer that
teaches them, on the real default model (the trainer's logic on the tiny one)."""

import json
import random

import numpy as np
import pytest
import torch

from searchr3 import Embedder, ModelConfig
from searchr3.config import DEFAULT_MODEL
from searchr3.errors import SearchR3Error
from searchr3.research.trace_targets import OPENING, TermWeights
from tests.training.test_training_sft import PAIRS, small
from training.pairs import Pair, load_pairs
from training.sft_trainer import SFTTrainer
from training.traces import about_the_prompt, choose_traces, main, margins, noise_floors


def test_margins_are_the_positive_over_the_best_other():
    docs = np.eye(3, dtype=np.float32)
    queries = np.array([[0.9, 0.1, 0.0], [0.2, 0.7, 0.1]], dtype=np.float32)
    np.testing.assert_allclose(margins(queries, docs, [0, 2]), [0.8, -0.6], atol=1e-6)


def test_the_noise_floor_is_the_best_gain_of_another_querys_spread_around_this_querys_mean():
    docs = np.eye(4, dtype=np.float32)
    vectors = np.array([[0.8, 0.6, 0, 0], [0.6, 0.8, 0, 0], [0, 0.6, 0.8, 0], [0, 0.8, 0, 0.6], [0, 0, 0.6, 0.8]],
                       dtype=np.float32)
    base = np.array([0.1, -0.2, 0.0], dtype=np.float32)
    floors = noise_floors(vectors, [0, 0, 1, 1, 2], docs, base, random.Random(0))
    assert set(floors) == {0, 1}  # query 2 has one sample: no spread to lend or to judge

    def moved(q, own, donor):
        v = vectors[own].mean(0) + vectors[donor] - vectors[donor].mean(0)
        v = v / np.linalg.norm(v, axis=1, keepdims=True)
        return float((margins(v, docs, [q] * len(v)) - base[q]).max())

    assert floors[0] == pytest.approx(moved(0, [0, 1], [2, 3]), abs=1e-6)  # two queries lend to each other
    assert floors[1] == pytest.approx(moved(1, [2, 3], [0, 1]), abs=1e-6)
    lone = noise_floors(vectors[:3], [0, 0, 1], docs, base, random.Random(0))
    # a query alone borrows its own spread: the floor is its best sample's gain, so no sample passes
    assert lone == {0: pytest.approx(float((margins(vectors[:2], docs, [0, 0]) - base[0]).max()), abs=1e-6)}


def test_a_trace_about_the_embedding_is_not_analysis():
    assert about_the_prompt("The embedding is 100% correct.", "How do I copy a file?")
    assert about_the_prompt("Looking for a passage that mentions the Embedding layer", "What is a dict?")
    assert not about_the_prompt("Looking for a passage that mentions embedding models", "How to embed a font?")
    assert not about_the_prompt("Looking for a passage that mentions shutil and copyfile.", "How do I copy a file?")


def test_the_gain_filter_keeps_only_traces_that_help(trained, tmp_path):
    weights = TermWeights([p.positive for p in PAIRS])
    choices = choose_traces(trained, PAIRS, weights, block=4)
    assert len(choices) == len(PAIRS)
    docs = trained.embed_documents([p.positive for p in PAIRS] + [p.negatives[0] for p in PAIRS])
    # the gain is over the plain search of the model that reads the traces, not the query adapter's
    assert trained.query_embedder is not trained and trained.document_side.query_embedder is trained.document_side
    plain = margins(trained.document_side.embed_queries([p.query for p in PAIRS]), docs, [0, 1, 2, 3])
    for i, (pair, choice) in enumerate(zip(PAIRS, choices)):
        if choice.trace is None:
            assert choice.source == "no gain" and choice.gain <= 0
            continue
        assert choice.source == "oracle" and choice.gain > 0 and "Looking for" in choice.trace
        traced = margins(trained.embed_with_traces([pair.query], [choice.trace]), docs, [i])[0]
        assert traced - plain[i] == pytest.approx(choice.gain, abs=1e-4)  # the gain is what search would see
    assert {c.source for c in choose_traces(trained, PAIRS, weights, plain_share=1.0)} == {"plain share"}
    # samples that continue the oracle's opening compete with the oracle in the same format
    opened = choose_traces(trained, PAIRS, weights, samples=2, block=4, opened=True)
    for i, (pair, choice) in enumerate(zip(PAIRS, opened)):
        assert choice.gain >= choices[i].gain - 1e-3  # more candidates never lower the best gain
        if choice.trace is not None:
            assert choice.source in {"oracle", "opened sample"} and choice.trace.startswith(OPENING)
            assert not about_the_prompt(choice.trace, pair.query)
            assert choice.trace.removeprefix(OPENING).strip(" .") not in {"", "the", "a"}
            traced = margins(trained.embed_with_traces([pair.query], [choice.trace]), docs, [i])[0]
            assert traced - plain[i] == pytest.approx(choice.gain, abs=1e-4)

    # without the oracle only the model's own samples compete: every target is a trace it wrote
    own = choose_traces(trained, PAIRS, weights, samples=2, block=4, opened=True, oracle=False)
    assert len(own) == len(PAIRS)
    for i, (pair, choice) in enumerate(zip(PAIRS, own)):
        assert choice.source in {"opened sample", "no gain", "no candidate"}
        assert opened[i].gain >= choice.gain - 1e-3  # the same samples, with the oracle beside them
        if choice.trace is not None:
            assert choice.gain > 0 and choice.trace.startswith(OPENING)
            assert not about_the_prompt(choice.trace, pair.query)
            traced = margins(trained.embed_with_traces([pair.query], [choice.trace]), docs, [i])[0]
            assert traced - plain[i] == pytest.approx(choice.gain, abs=1e-4)
    with pytest.raises(SearchR3Error, match="need samples"):
        choose_traces(trained, PAIRS, weights, oracle=False)

    # with the noise floor, a sample is kept only where it beats another query's spread: the same
    # samples (same seed), so what survives is the same trace with the same gain, above its floor
    floored = choose_traces(trained, PAIRS, weights, samples=2, block=4, opened=True, oracle=False, noise_floor=True)
    for choice, unfloored in zip(floored, own):
        assert choice.source in {"opened sample", "below the noise floor", "no gain", "no candidate"}
        if choice.trace is not None:
            assert choice.floor is not None and choice.gain > choice.floor
            assert (choice.trace, choice.gain) == (unfloored.trace, pytest.approx(unfloored.gain, abs=1e-6))
        if choice.source == "below the noise floor":
            assert unfloored.trace is not None and (choice.floor is None or unfloored.gain <= choice.floor)
    assert any(c.floor is not None for c in floored)  # queries with two samples were judged against the floor
    with pytest.raises(SearchR3Error, match="two or more samples"):
        choose_traces(trained, PAIRS, weights, samples=1, noise_floor=True)

    # the command writes the same pairs back, a trace where one helps, and they load as pairs
    src = tmp_path / "pairs.jsonl"
    src.write_text("".join(json.dumps({"query": p.query, "positive": p.positive, "negatives": list(p.negatives)})
                           + "\n" for p in PAIRS))
    out = tmp_path / "traced.jsonl"
    assert main([str(src), str(out), "--plain-share", "0", "--block", "4"]) == 0
    loaded = load_pairs(out)
    assert [p.query for p in loaded] == [p.query for p in PAIRS]
    assert [p.trace for p in loaded] == [c.trace for c in choose_traces(Embedder.load(ModelConfig()), PAIRS,
                                                                         weights, block=4)]
    assert main([str(src), str(out), "--plain-share", "2"]) == 2


@pytest.mark.model  # the tiny model's uniform attention cannot learn to write a sequence
def test_stage_one_teaches_the_trace_and_reads_the_vector_after_it(tmp_path):
    traced = [Pair(p.query, p.positive, p.negatives, f"Looking for {p.positive.split()[0]}") for p in PAIRS[:2]]
    pairs = traced + PAIRS[2:]  # two reasoning queries with traces, two plain ones
    trainer = SFTTrainer(small(model=DEFAULT_MODEL, steps=14, w_lm=1.0, w_kl=0.0, lr=3e-3), pairs, tmp_path)
    ids, assistant = trainer.query_ids(traced[0])
    tail = trainer.tokenizer.decode(ids[-assistant:])
    assert tail.startswith("Looking for list.reverse()") and tail.endswith("The embedding is <|embed_token|>")
    assert trainer.query_ids(PAIRS[2])[1] == len(trainer.assistant_ids)
    first = trainer.train_step()
    for _ in range(13):
        last = trainer.train_step()
    assert last["lm"] < 0.05 * first["lm"], (first["lm"], last["lm"])
    # the trained model writes the taught trace for that query, and its vector is read after it
    trainer.peft_model.eval()
    embedder = Embedder.from_model(trainer.peft_model, trainer.tokenizer, base_id=trainer.base_id, adapter_id="t")
    with torch.inference_mode():
        (trace,) = embedder.traces([traced[0].query], max_new_tokens=16)
    assert trace.text.startswith("Looking for list.reverse()") and trace.emitted_embed_token


@pytest.mark.tiny
def test_the_trace_span_leaves_the_plain_turns_out_of_the_language_terms(tmp_path):
    traced = Pair(PAIRS[0].query, PAIRS[0].positive, PAIRS[0].negatives, "Looking for list.reverse()")
    every = SFTTrainer(small(steps=1), PAIRS, tmp_path / "turn")
    only = SFTTrainer(small(steps=1, lm_span="trace"), PAIRS, tmp_path / "trace")
    assert only.query_ids(PAIRS[1])[1] == 0 < every.query_ids(PAIRS[1])[1]  # a plain query: no turn trained
    assert only.query_ids(traced) == every.query_ids(traced)  # a traced one: the trace and the embed sentence
    a, b = every.train_step(), only.train_step()  # plain pairs only: the same contrastive step, no LM or KL
    assert a["lm"] > 0.1 and b["lm"] == 0 == b["kl"] and not b["skipped"]  # (a fresh LoRA: KL 0 at first)
    assert b["nce"] == pytest.approx(a["nce"], rel=1e-5) and np.isfinite(b["grad_norm"])
    mixed = SFTTrainer(small(steps=1, lm_span="trace"), [traced, *PAIRS[1:]], tmp_path / "mixed").train_step()
    assert mixed["lm"] > 0.1 and not mixed["skipped"]
