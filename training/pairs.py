"""Training pairs: reading ``{"query", "positive", "negatives", "trace"?}`` JSONL and ordering batches."""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from searchr3.errors import SearchR3Error
from searchr3.jsonl import read_jsonl


@dataclass(frozen=True)
class Pair:
    """A query, its positive and hard negatives; ``trace``: the reasoning the model should
    write before the embed token for this query ("" an empty one), ``None`` for a plain query."""

    query: str
    positive: str
    negatives: tuple[str, ...] = ()
    trace: str | None = None


def load_pairs(path: str | Path) -> list[Pair]:
    """Read and validate a pairs file; raise :class:`SearchR3Error` naming the bad line."""
    path = Path(path)
    pairs = []
    for n, row in read_jsonl(path, missing="no such pairs file: {path}"):
        query, positive, negatives = row.get("query"), row.get("positive"), row.get("negatives", [])
        trace = row.get("trace")
        if not (isinstance(query, str) and query.strip() and isinstance(positive, str) and positive.strip()):
            raise SearchR3Error(f"{path}:{n}: needs non-empty 'query' and 'positive' strings")
        if not isinstance(negatives, list) or not all(isinstance(x, str) and x.strip() for x in negatives):
            raise SearchR3Error(f"{path}:{n}: 'negatives' must be a list of non-empty strings")
        if trace is not None and not isinstance(trace, str):
            raise SearchR3Error(f"{path}:{n}: 'trace' must be a string (or absent for a plain query)")
        pairs.append(Pair(query, positive, tuple(negatives), trace))
    if not pairs:
        raise SearchR3Error(f"{path}: no pairs")
    return pairs


def batch_indices(n: int, batch_size: int, step: int, seed: int) -> list[int]:
    """Indices of the pairs in optimizer step ``step`` (0-based).

    Each epoch is a fresh permutation derived from ``seed``; the batch depends on the step
    alone, so a resumed run sees exactly the batches an uninterrupted one would.
    """
    start = step * batch_size
    return [_epoch_order(n, seed, pos // n)[pos % n] for pos in range(start, start + batch_size)]


@lru_cache(maxsize=4)
def _epoch_order(n: int, seed: int, epoch: int) -> tuple[int, ...]:
    order = list(range(n))
    random.Random(seed * 1_000_003 + epoch).shuffle(order)
    return tuple(order)
