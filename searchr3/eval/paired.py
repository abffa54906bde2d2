"""Paired comparison of two runs on the same queries: is a difference in a mean metric more
than the luck of which queries the dev set holds?"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Paired:
    """Run B against run A over the queries both scored."""

    n: int
    mean_a: float
    mean_b: float
    wins: int  # queries B scores higher
    losses: int
    ci_low: float  # 95% paired bootstrap interval of mean(B - A)
    ci_high: float
    p: float  # two-sided sign-flip randomization test of mean(B - A) = 0

    @property
    def delta(self) -> float:
        return self.mean_b - self.mean_a

    @property
    def ties(self) -> int:
        return self.n - self.wins - self.losses

    @property
    def p_text(self) -> str:
        """``p`` to three places, ``< 0.001`` below that."""
        return f"{self.p:.3f}" if self.p >= 0.001 else "< 0.001"


def paired_difference(a: Mapping[str, float], b: Mapping[str, float], samples: int = 10_000,
                      seed: int = 0) -> Paired:
    """Compare per-query scores ``b`` with ``a`` (both ``{query id: score}``) on their shared
    queries: wins and losses, a bootstrap interval and a randomization p-value for the mean
    difference (``samples`` resamples each, seeded).

    Raises:
        ValueError: the two share no query.
    """
    shared = sorted(set(a) & set(b))
    if not shared:
        raise ValueError("the two runs share no query")
    diffs = [b[q] - a[q] for q in shared]
    n = len(diffs)
    delta = sum(diffs) / n
    rng = random.Random(seed)
    means = sorted(sum(rng.choices(diffs, k=n)) / n for _ in range(samples))
    low, high = means[int(0.025 * samples)], means[min(int(0.975 * samples), samples - 1)]
    extreme = sum(abs(sum(d if rng.random() < 0.5 else -d for d in diffs)) / n >= abs(delta) - 1e-12
                  for _ in range(samples))
    return Paired(n=n, mean_a=sum(a[q] for q in shared) / n, mean_b=sum(b[q] for q in shared) / n,
                  wins=sum(d > 1e-12 for d in diffs), losses=sum(d < -1e-12 for d in diffs),
                  ci_low=low, ci_high=high, p=(extreme + 1) / (samples + 1))
