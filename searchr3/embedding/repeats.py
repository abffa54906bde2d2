"""Greedy loops: a small model decoding greedily can fall into repeating the same run of
tokens until its budget ends ("Embedded Embedding Embedded Embedding …"). Answers and
reasoning traces both stop where such a repeat begins."""

from __future__ import annotations


def repeat_start(ids: list[int], span: int) -> int | None:
    """Where a loop begins: the index of the last ``span`` ids when that run of ids already
    occurred earlier in ``ids``, else ``None``."""
    if span <= 0 or len(ids) < 2 * span:
        return None
    tail = ids[-span:]
    start = len(ids) - span
    return start if any(ids[j : j + span] == tail for j in range(start)) else None
