"""A noise control for choosing among sampled vectors: spread that says nothing about the query.

Choosing the best of N sampled query vectors by a label gains something even when the samples
carry no information, because any spread sometimes lands nearer the positive. The control keeps
each query's mean sample vector and moves it by the deviations of *another* query's samples,
so the spread has the size and shape of real samples but is unrelated to this query; whatever
best-of-N gains on the control is what spread alone gains (used by ``searchr3.eval.traces`` and
``training.traces --noise-floor``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np


def borrow_spread(groups: Sequence[np.ndarray] | Mapping[int, np.ndarray],
                  cycle: Sequence[int]) -> dict[int, np.ndarray]:
    """For each group index in ``cycle`` (a group: one query's sample vectors, ``(n, dim)``), the
    unit vectors of its own mean plus the deviations of the next group in the cycle (the last
    borrows from the first; a cycle of one borrows its own spread, so it stays the samples)."""
    moved: dict[int, np.ndarray] = {}
    for n, g in enumerate(cycle):
        donor = groups[cycle[(n + 1) % len(cycle)]]
        v = groups[g].mean(0) + donor - donor.mean(0)
        moved[g] = v / np.linalg.norm(v, axis=-1, keepdims=True)
    return moved
