import torch

from searchr3.embedding.batching import pad_left, pad_right, token_budget_batches


def test_batches_cover_every_index_once_and_respect_budget():
    lengths = [5, 100, 37, 37, 8, 64, 1, 250, 12]
    batches = token_budget_batches(lengths, token_budget=200, max_batch_size=3)
    flat = sorted(i for b in batches for i in b)
    assert flat == list(range(len(lengths)))
    for b in batches:
        assert len(b) <= 3
        longest = max(lengths[i] for i in b)
        assert len(b) == 1 or len(b) * longest <= 200
    # the over-budget item (250) sits alone
    assert [7] in batches


def test_batches_are_longest_first():
    batches = token_budget_batches([3, 9, 6], token_budget=1000, max_batch_size=8)
    assert batches == [[1, 2, 0]]


def test_padding_sides():
    ids, mask = pad_right([[1, 2, 3], [4]], pad_id=0)
    assert ids.tolist() == [[1, 2, 3], [4, 0, 0]]
    assert mask.tolist() == [[1, 1, 1], [1, 0, 0]]
    ids, mask = pad_left([[1, 2, 3], [4]], pad_id=0)
    assert ids.tolist() == [[1, 2, 3], [0, 0, 4]]
    assert mask.dtype == torch.long and mask.tolist() == [[1, 1, 1], [0, 0, 1]]
