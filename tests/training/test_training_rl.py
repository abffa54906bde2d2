"""Stage 2 (RL of the reasoning trace) on the tiny stand-in model from a stage-1 adapter stage1 for
it (tests/tiny_model.py), with small settings: the trainer's logic, not what RL teaches."""

import dataclasses
import json

import numpy as np
import pytest
import torch

from searchr3 import Embedder, ModelConfig
from searchr3.config import DEFAULT_ADAPTER, DEFAULT_MODEL
from searchr3.errors import InvalidInputError
from tests.tiny_model import tiny_adapter, tiny_model_dir
from training.config import RLConfig
from training.losses import grpo_loss
from training.pairs import Pair
from training.rewards import FormatRule, informative_groups, with_room
from training.rl import main
from training.rl_trainer import NoRoomError, RLTrainer

PAIRS = [
    Pair(
        "sort a list in place",
        "list.sort() sorts the list in place and returns None.",
        ("set.add(x) adds an element to the set.", "os.getcwd() returns the current working directory."),
    ),
    Pair(
        "read environment variables",
        "os.environ is a mapping of the process environment variables.",
        (
            "json.loads(s) parses a JSON document from a string.",
            "list.sort() sorts the list in place and returns None.",
        ),
    ),
    Pair(
        "sleep for a few seconds",
        "time.sleep(secs) suspends execution for the given number of seconds.",
        ("random.choice(seq) returns a random element.", "str.strip() removes leading and trailing whitespace."),
    ),
    Pair(
        "delete a directory tree",
        "shutil.rmtree(path) deletes an entire directory tree.",
        (
            "math.floor(x) returns the largest integer not above x.",
            "zip() iterates over several iterables in parallel.",
        ),
    ),
]


@pytest.fixture(scope="module")
def init_adapter(tmp_path_factory) -> str:
    """The stage-1 adapter RL starts from: one stage1 for the tiny model."""
    return str(tiny_adapter(tmp_path_factory.mktemp("stage1")))


@pytest.fixture(scope="module")
def stage1(init_adapter) -> Embedder:
    """The tiny model with the stage-1 adapter, loaded independently of the trainer."""
    return Embedder.load(ModelConfig(model=str(tiny_model_dir()), adapter=init_adapter, precision="float32",
                                     max_query_tokens=64, max_document_tokens=128))


def small(init: str, **changes) -> RLConfig:
    base = dict(
        model=str(tiny_model_dir()),
        init=init,
        steps=2,
        queries=2,
        group=2,
        max_new_tokens=12,
        lr=1e-3,
        warmup=1,
        micro_batch=2,
        corpus_pairs=4,
        max_query_tokens=64,
        max_document_tokens=128,
        neighbours=2,
        candidates=2,
        full_every=0,
        save_every=1,
        seed=5,
        mixed_precision="no",
        min_plain_rank=1,  # these easy pairs' plain queries already rank their positives first
    )
    base.update(changes)
    return RLConfig(**base)


@pytest.fixture(scope="module")
def trainer(tmp_path_factory, init_adapter) -> RLTrainer:
    return RLTrainer(small(init_adapter), PAIRS, tmp_path_factory.mktemp("rl"))


def test_grpo_loss_by_hand():
    logp = torch.log(torch.tensor([[0.6, 0.3, 0.5]]))
    old = torch.log(torch.tensor([[0.4, 0.3, 0.5]]))  # first token: ratio 1.5
    mask = torch.tensor([[True, True, False]])  # the third position is padding
    up, kl = grpo_loss(logp, old, logp, mask, torch.tensor([1.0]), clip=0.2, beta=0.1)
    assert up.item() == pytest.approx(-(1.2 + 1.0) / 2)  # positive advantage: the ratio is clipped at 1.2
    assert kl.item() == 0.0  # policy equals reference
    down, _ = grpo_loss(logp, old, logp, mask, torch.tensor([-1.0]), clip=0.2, beta=0.1)
    assert down.item() == pytest.approx((1.5 + 1.0) / 2)  # negative advantage: the unclipped (worse) term
    ref = torch.log(torch.tensor([[0.3, 0.3, 0.9]]))
    _, kl = grpo_loss(logp, old, ref, mask, torch.tensor([0.0]), clip=0.2, beta=0.1)
    assert kl.item() == pytest.approx(
        (0.5 - np.log(0.5) - 1) / 2, rel=1e-5
    )  # k3 at token 1, 0 at token 2, pad ignored


def _plain(stage1, trainer, positives):
    """Independently: the plain (no-trace) query vectors of the pairs whose positives these are,
    read by the policy's own weights (the document model, not the shipped query adapter)."""
    pairs = [trainer.corpus.pairs[trainer.corpus.positive.index(p)] for p in positives]
    return stage1.document_side.embed_queries([p.query for p in pairs])


@pytest.mark.tiny
def test_rewards_come_from_real_embeddings(trainer, stage1):
    """Rewards equal the gain of 1/rank over the plain query's (+ format), recomputed
    independently with the stage-1 model."""
    r = trainer.rollout(0)
    assert len(r.traces) == 4 and [t.query_index for t in r.traces] == [0, 0, 1, 1]
    docs = stage1.embed_documents(trainer.corpus.docs)
    queries = stage1.vectors_for_ids([t.final_ids for t in r.traces])
    np.testing.assert_allclose(r.vectors, queries, atol=1e-4)
    sims = queries @ docs.T
    own = sims[np.arange(len(r.positives)), r.positives]
    ranks = (sims >= own[:, None]).sum(axis=1)
    assert r.ranks.tolist() == ranks.tolist()
    plain_sims = _plain(stage1, trainer, r.positives) @ docs.T
    plain_own = plain_sims[np.arange(len(r.positives)), r.positives]
    plain_ranks = (plain_sims >= plain_own[:, None]).sum(axis=1)
    assert r.plain_ranks.tolist() == plain_ranks[::2].tolist()  # one per query, rollouts come in groups of 2
    np.testing.assert_allclose(r.retrieval, 1.0 / ranks)
    np.testing.assert_allclose(r.gain, 1.0 / ranks - 1.0 / plain_ranks)
    np.testing.assert_allclose(r.rewards, r.gain + trainer.config.w_format * r.format)
    assert np.allclose(r.advantages.reshape(-1, 2).sum(axis=1), 0.0)
    assert set(trainer.corpus.positive) <= set(range(len(trainer.corpus.docs))) and len(trainer.corpus.docs) == 11
    # the softmax reward: the positive's probability over the corpus at temperature tau, same rollouts
    trainer.config.reward, tau = "softmax", trainer.config.reward_temperature
    try:
        soft = trainer.rollout(0)
    finally:
        trainer.config.reward = "rank"
    assert [t.text for t in soft.traces] == [t.text for t in r.traces]
    expected = np.exp(own / tau) / np.exp(sims / tau).sum(axis=1)
    plain = np.exp(plain_own / tau) / np.exp(plain_sims / tau).sum(axis=1)
    np.testing.assert_allclose(soft.retrieval, expected, rtol=1e-3)
    np.testing.assert_allclose(soft.gain, expected - plain, rtol=1e-3, atol=1e-5)
    np.testing.assert_allclose(soft.rewards, soft.gain + trainer.config.w_format * soft.format, rtol=1e-3, atol=1e-5)


@pytest.mark.tiny
def test_the_pool_holds_the_queries_with_room_to_improve(trainer, stage1):
    """Queries whose plain query ranks the positive at min_plain_rank or below, ranked
    independently with the stage-1 model; no room at all is a typed error."""
    docs = stage1.embed_documents(trainer.corpus.docs)
    positives = np.array(trainer.corpus.positive)
    sims = _plain(stage1, trainer, positives) @ docs.T
    ranks = (sims >= sims[np.arange(len(positives)), positives][:, None]).sum(axis=1)
    try:
        for at_least in (1, 2, int(ranks.max()), int(ranks.max()) + 1):
            trainer.config.min_plain_rank = at_least
            assert trainer.choose_pool().tolist() == np.flatnonzero(ranks >= at_least).tolist()
    finally:
        trainer.config.min_plain_rank = 1
    assert trainer.choose_pool().tolist() == list(range(len(PAIRS)))
    assert with_room(np.array([1, 3, 2, 1]), 2).tolist() == [1, 2]


@pytest.mark.tiny
def test_format_reward_punishes_a_forced_embed_token(trainer):
    trainer.config.max_new_tokens, rule = 2, trainer.format_rule  # too short to write "The embedding is" itself
    try:
        r = trainer.rollout(1)
    finally:
        trainer.config.max_new_tokens = 12
    missing = np.array([not t.emitted_embed_token for t in r.traces])
    assert missing.any()
    assert (r.format[missing] <= -rule.missing_embed_penalty).all()
    assert (r.rewards[missing] <= r.retrieval[missing] - trainer.config.w_format * rule.missing_embed_penalty).all()
    assert FormatRule().missing_embed_penalty > 0


@pytest.mark.model  # the tiny model's traces are one repeated word: its policy cannot leave the reference
def test_tiny_run_kl_starts_at_zero_and_refresh_is_local(tmp_path):
    config = small(DEFAULT_ADAPTER, model=DEFAULT_MODEL, drop_flat=False)  # the KL is checked on every rollout
    trainer = RLTrainer(config, PAIRS, tmp_path)
    init = {n: p.detach().clone() for n, p in trainer.peft_model.named_parameters() if p.requires_grad}
    first = trainer.train_step()
    assert first["kl"] == 0.0  # the policy is the reference at step 0
    assert np.isfinite(first["reward"]) and first["grad_norm"] > 0
    changed = [n for n, p in trainer.peft_model.named_parameters() if p.requires_grad and not torch.equal(p, init[n])]
    assert changed  # the update moved the adapter
    # the next rollout's local refresh re-encodes its region, and only it, under the new weights
    before = trainer.env.vectors.copy()
    r = trainer.rollout()
    moved = np.where(np.abs(trainer.env.vectors - before).max(axis=1) > 1e-6)[0]
    assert not r.refresh_full and 0 < len(r.refresh_rows) < len(trainer.corpus.docs)
    assert moved.tolist() == r.refresh_rows.tolist()
    fresh = trainer._encode_docs(r.refresh_rows.tolist())
    np.testing.assert_allclose(trainer.env.vectors[r.refresh_rows], fresh, atol=1e-5)
    second = trainer.update(r)
    assert second["kl"] > 0  # the policy has left the reference


@pytest.mark.tiny
def test_cli_trains_and_exports(tmp_path, init_adapter):
    data = tmp_path / "pairs.jsonl"
    data.write_text(
        "".join(
            json.dumps({"query": p.query, "positive": p.positive, "negatives": list(p.negatives)}) + "\n"
            for p in PAIRS
        )
    )
    out = tmp_path / "run"
    config = tmp_path / "rl.json"
    config.write_text(json.dumps({k: v for k, v in small(init_adapter, steps=1).__dict__.items()}))
    assert main(["--data", str(data), "--out", str(out), "--config", str(config)]) == 0
    log = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert [row["step"] for row in log] == [1] and log[0]["kl"] == 0.0
    assert (out / "rewards.png").stat().st_size > 10_000 and (out / "checkpoints" / "step-000001").is_dir()
    tiny = ModelConfig(model=str(tiny_model_dir()), max_query_tokens=64, max_document_tokens=128)
    before = Embedder.load(tiny.with_(adapter=init_adapter))
    after = Embedder.load(tiny.with_(adapter=str(out / "adapter")))
    assert after.fingerprint != before.fingerprint
    text = [PAIRS[0].positive]
    assert 1e-6 < np.abs(after.embed_documents(text) - before.embed_documents(text)).max() < 0.5


@pytest.mark.parametrize("args, message", [
    (["--data", "/nonexistent/pairs.jsonl"], "no such pairs file"),
    (["--init", "/nonexistent/adapter"], "adapter not found"),
    (["--reward", "ndcg"], "--reward must be 'rank' or 'softmax'"),
])
def test_cli_errors_are_one_line(tmp_path, capsys, args, message):
    data = tmp_path / "pairs.jsonl"
    data.write_text(json.dumps({"query": "q", "positive": "p"}) + "\n")
    argv = ["--data", str(data), "--out", str(tmp_path / "run")] + args
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and message in err and "\n" not in err


@pytest.mark.tiny
def test_flat_groups_are_left_out_and_infonce_reads_the_sampled_traces(trainer, stage1):
    """A group whose rewards are all equal carries no policy gradient: without InfoNCE an
    all-flat step changes nothing; the InfoNCE term is the cross-entropy of each rollout's
    vector against the corpus, and alone it moves the adapter. (Runs last on the fixture: it
    updates the weights.)"""
    assert informative_groups(np.array([0.5, 0.5, 0.2, 0.7, 1.0, 1.0]), 2).tolist() == [False, True, False]
    r = trainer.rollout(2)
    flat = dataclasses.replace(r, rewards=np.zeros_like(r.rewards), advantages=np.zeros_like(r.advantages))
    weights = {n: p.detach().clone() for n, p in trainer.peft_model.named_parameters() if p.requires_grad}

    def moved() -> bool:
        return any(not torch.equal(p, weights[n]) for n, p in trainer.peft_model.named_parameters() if p.requires_grad)

    trainer.config.w_nce = 0.0
    try:
        stats = trainer.update(flat)
    finally:
        trainer.config.w_nce = 0.1
    assert stats["dropped_groups"] == 1.0 and not stats["updated"] and not moved()
    # InfoNCE alone: its value before the step is the cross-entropy recomputed with the stage-1 model
    docs = trainer.env.vectors
    logits = stage1.vectors_for_ids([t.final_ids for t in r.traces]) @ docs.T / trainer.config.tau
    logits -= logits.max(axis=1, keepdims=True)
    expected = np.mean(np.log(np.exp(logits).sum(axis=1)) - logits[np.arange(len(logits)), r.positives])
    stats = trainer.update(flat)
    assert stats["updated"] and stats["pg"] == 0.0 and stats["kl"] == 0.0
    assert stats["nce"] == pytest.approx(expected, rel=1e-3) and moved()


@pytest.mark.tiny
def test_no_query_with_room_is_a_one_line_error(tmp_path, capsys, init_adapter):
    data = tmp_path / "pairs.jsonl"
    data.write_text("".join(json.dumps({"query": p.query, "positive": p.positive}) + "\n" for p in PAIRS))
    argv = ["--data", str(data), "--out", str(tmp_path / "run"), "--min-plain-rank", "50", "--corpus-pairs", "4",
            "--model", str(tiny_model_dir()), "--init", init_adapter]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: no training query has room to improve") and "\n" not in err
    assert issubclass(NoRoomError, InvalidInputError)
