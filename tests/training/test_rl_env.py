"""The RL environment's local refresh, rewards and advantages (stage 2 building blocks)."""

import numpy as np
import pytest

from searchr3 import Sampling
from training.rewards import FormatRule, format_reward, group_advantages, retrieval_reward, softmax_reward
from training.rl_env import CorpusEnvironment, knn_graph


class VersionedEncoder:
    """Documents as unit vectors that drift with a policy version; records what it encodes."""

    def __init__(self, n, dim=16, seed=0):
        rng = np.random.default_rng(seed)
        self.base = rng.normal(size=(n, dim))
        self.drift = rng.normal(size=(n, dim))
        self.version = 0
        self.calls = []

    def vector(self, i, version):
        v = self.base[i] + 0.05 * version * self.drift[i]
        return v / np.linalg.norm(v)

    def __call__(self, rows):
        rows = list(rows)
        self.calls.append(rows)
        return np.stack([self.vector(i, self.version) for i in rows]).astype(np.float32)


def test_knn_graph_matches_brute_force():
    vectors = VersionedEncoder(50)(range(50))
    graph = knn_graph(vectors, 5)
    sims = vectors @ vectors.T
    np.fill_diagonal(sims, -np.inf)
    assert (graph == np.argsort(-sims, axis=1)[:, :5]).all()
    assert (knn_graph(vectors, 5, rows=[3, 7]) == graph[[3, 7]]).all()


def test_local_refresh_updates_exactly_the_region():
    enc = VersionedEncoder(200)
    env = CorpusEnvironment(enc, 200, neighbours=4, candidates=3, full_every=5)
    enc.version = 1
    queries = env.vectors[[10, 20]] + 0.01
    expected = set([10, 20]) | set(env.graph[10]) | set(env.graph[20]) | set(env.top(queries, 3).ravel())
    before = env.vectors.copy()
    refresh = env.refresh([10, 20], queries)
    assert not refresh.full and set(refresh.rows.tolist()) == expected
    assert enc.calls[-1] == sorted(expected)  # only the region was encoded
    changed = np.where(np.any(env.vectors != before, axis=1))[0]
    assert set(changed.tolist()) == expected
    for i in expected:
        np.testing.assert_allclose(env.vectors[i], enc.vector(i, 1), atol=1e-6)
    # patched graph rows equal a graph rebuilt on the current vectors
    assert (env.graph[refresh.rows] == knn_graph(env.vectors, 4, refresh.rows)).all()


def test_drift_band_re_encodes_where_ranks_can_flip():
    """The band adds the stale rows whose score lies within the observed drift of a
    positive's score; with it, every positive's rank equals the rank under a full re-encode."""
    n = 300
    enc, plain_enc = VersionedEncoder(n, seed=3), VersionedEncoder(n, seed=3)
    banded = CorpusEnvironment(enc, n, neighbours=3, candidates=2, full_every=0, band=1.0, band_limit=n)
    plain = CorpusEnvironment(plain_enc, n, neighbours=3, candidates=2, full_every=0)
    rng = np.random.default_rng(1)
    positives = rng.choice(n, size=6, replace=False)
    equal_plain, equal_banded = [], []
    for version in (1, 2, 3):
        enc.version = plain_enc.version = version
        queries = banded.vectors[positives] + 0.3 * rng.normal(size=(6, 16)).astype(np.float32)
        region = banded.region(positives, queries)
        before, encoded_at = banded.vectors.copy(), banded.encoded_at.copy()
        refresh = banded.refresh(positives, queries)
        plain.refresh(positives, queries)
        band = np.setdiff1d(refresh.rows, region)
        # the band by hand: per query, the largest score change per step of staleness on the
        # region; a stale row is in it when its gap to the positive's score is within rate x its age
        rate = (np.abs(queries @ (banded.vectors[region] - before[region]).T) / (version - encoded_at[region])).max(
            axis=1
        )
        mid = before.copy()
        mid[region] = banded.vectors[region]  # what the band saw: the region fresh, the rest stale
        sims = queries @ mid.T
        gap = np.abs(sims - sims[np.arange(6), positives][:, None]) / (rate[:, None] * (version - encoded_at)[None, :])
        gap[:, region] = np.inf
        assert band.tolist() == np.where(gap.min(axis=0) <= 1.0)[0].tolist()
        exact = CorpusEnvironment(enc, n, neighbours=3).ranks(queries, positives)
        equal_banded.append(np.mean(banded.ranks(queries, positives) == exact))
        equal_plain.append(np.mean(plain.ranks(queries, positives) == exact))
    assert np.mean(equal_banded) == 1.0 and np.mean(equal_plain) < 1.0
    with pytest.raises(ValueError):
        banded.band_rows(queries, positives[:2], refresh.rows, before[refresh.rows], np.ones(len(refresh.rows)))


def test_full_refresh_every_n_steps():
    enc = VersionedEncoder(30)
    env = CorpusEnvironment(enc, 30, neighbours=3, candidates=0, full_every=3)
    fulls = [env.refresh([0]).full for _ in range(6)]
    assert fulls == [False, False, True, False, False, True]
    assert enc.calls[3] == list(range(30))


def test_ranks_and_rewards():
    enc = VersionedEncoder(20)
    env = CorpusEnvironment(enc, 20, neighbours=3)
    assert env.ranks(env.vectors[[4, 9]], [4, 9]).tolist() == [1, 1]
    # a query equal to doc 4 ranks doc 9 behind doc 4 at least
    assert env.ranks(env.vectors[[4]], [9])[0] >= 2
    assert retrieval_reward(np.array([1, 2, 4])).tolist() == [1.0, 0.5, 0.25]


def test_softmax_reward_grows_with_the_margin():
    scores = np.array([[0.9, 0.5, 0.4], [0.6, 0.5, 0.4], [0.3, 0.5, 0.4]])
    got = softmax_reward(scores, [0, 0, 0], temperature=0.1)
    np.testing.assert_allclose(got, np.exp(scores[:, 0] / 0.1) / np.exp(scores / 0.1).sum(axis=1))
    assert got[0] > got[1] > got[2]  # both first-ranked rollouts differ: the wider margin earns more
    assert softmax_reward(np.array([[500.0, 0.0]]), [0], 0.01)[0] == 1.0  # no overflow


def test_advantages_are_zero_mean_per_group():
    adv = group_advantages(np.array([1.0, 0.0, 0.5, 0.5, 0.2, 0.9]), group_size=2)
    assert np.allclose(adv.reshape(-1, 2).sum(axis=1), 0.0)
    assert adv[2] == adv[3] == 0.0  # equal rewards: no signal
    assert adv[0] > 0 > adv[1]
    with pytest.raises(ValueError):
        group_advantages(np.ones(5), group_size=2)


def test_format_reward_on_real_rollouts(trained):
    rule = FormatRule(max_tokens=8)
    (cut,) = trained.traces(["Explain in detail how a hash map works."], max_new_tokens=6)
    assert not cut.emitted_embed_token and cut.text  # cut short: some trace, no embed token
    assert format_reward(cut.text, cut.emitted_embed_token, len(cut.generated_ids), rule) == -1.0
    assert format_reward("a short analysis", True, 5, rule) == 0.0
    assert format_reward("", True, 20, rule) == -1.0  # empty and too long


def test_rewards_from_real_embeddings(trained):
    docs = [
        "Green tea is brewed with water at eighty degrees Celsius.",
        "Volcanoes erupt when magma rises through the crust.",
        "A violin has four strings tuned in fifths.",
        "Jupiter is the largest planet in the Solar System.",
    ]
    env = CorpusEnvironment(lambda rows: trained.embed_documents([docs[i] for i in rows]), len(docs), neighbours=2)
    traces = trained.traces(["What is the biggest planet?", "How hot should water be for green tea?"],
                            Sampling(do_sample=True, num_samples=2, seed=1), max_new_tokens=8)
    vectors = trained.vectors_for_ids([t.final_ids for t in traces])
    positives = [3, 3, 0, 0]
    ranks = env.ranks(vectors, positives)
    rewards = retrieval_reward(ranks)
    assert ranks.tolist() == [1, 1, 1, 1] and rewards.tolist() == [1.0] * 4
    assert np.allclose(group_advantages(rewards, 2), 0.0)
