"""Gradient caching on a toy encoder: the same gradient as one pass over the whole batch."""

import pytest
import torch

from training.grad_cache import GradientCache
from training.losses import info_nce


def _setup():
    torch.manual_seed(0)
    encoder = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.Tanh(), torch.nn.Linear(8, 4))
    queries, docs = torch.randn(5, 6), torch.randn(9, 6)
    return encoder, [queries, docs]


def _unit(x):
    return torch.nn.functional.normalize(x, dim=-1)


def _grads(encoder):
    return {n: p.grad.clone() for n, p in encoder.named_parameters()}


def _direct(encoder, groups, with_extra: bool):
    q, d = (_unit(encoder(g)) for g in groups)
    loss = info_nce(q, d, 0.1)
    if with_extra:
        loss = loss + (encoder(groups[0]) ** 2).mean()
    loss.backward()
    return loss


@pytest.mark.parametrize("chunk", [1, 2, 3, 100])
def test_same_gradient_as_one_pass(chunk):
    encoder, groups = _setup()
    _direct(encoder, groups, with_extra=True)
    expected = _grads(encoder)
    encoder.zero_grad()

    def encode(g, s, e, with_grad):
        raw = encoder(groups[g][s:e])
        return _unit(raw), raw

    def extra(g, s, e, raw):  # a per-row term, on query chunks only: the mean over all queries
        return (raw**2).sum() / raw.shape[1] / len(groups[0]) if g == 0 else None

    calls = []
    cache = GradientCache(chunk, backward=lambda t: (calls.append(1), t.backward()))
    value = cache.step([len(g) for g in groups], encode, lambda emb: info_nce(emb[0], emb[1], 0.1), extra)
    got = _grads(encoder)
    for name in expected:
        torch.testing.assert_close(got[name], expected[name], atol=1e-6, rtol=1e-5)
    q, d = (_unit(encoder(g)) for g in groups)
    assert value.item() == pytest.approx(info_nce(q, d, 0.1).item(), rel=1e-6)
    assert len(calls) == len(cache.spans(5)) + len(cache.spans(9))  # one backward per chunk


def test_all_but_the_last_backward_run_without_sync():
    encoder, groups = _setup()
    state, seen = {"inside": False}, []

    class NoSync:
        def __enter__(self):
            state["inside"] = True

        def __exit__(self, *exc):
            state["inside"] = False

    def backward(t):
        seen.append(state["inside"])
        t.backward()

    cache = GradientCache(4, backward=backward, no_sync=NoSync)
    cache.step([5, 9], lambda g, s, e, w: (_unit(encoder(groups[g][s:e])), None), lambda emb: info_nce(*emb, 0.1))
    assert seen == [True] * (len(seen) - 1) + [False] and len(seen) == 5


def test_spans_and_bad_chunk_size():
    assert GradientCache(4).spans(10) == [(0, 4), (4, 8), (8, 10)]
    assert GradientCache(4).spans(0) == []
    with pytest.raises(ValueError, match="chunk_size"):
        GradientCache(0)
