"""Evaluating Chroma-style ``where`` filters on a metadata dict (for BM25 hits, which
Chroma does not filter)."""

from __future__ import annotations

from typing import Any

from searchr3.errors import InvalidInputError

_OPS = {
    "$eq": lambda a, b: a == b,
    "$ne": lambda a, b: a != b,
    "$gt": lambda a, b: a is not None and a > b,
    "$gte": lambda a, b: a is not None and a >= b,
    "$lt": lambda a, b: a is not None and a < b,
    "$lte": lambda a, b: a is not None and a <= b,
    "$in": lambda a, b: a in b,
    "$nin": lambda a, b: a not in b,
}


def matches(metadata: dict, where: dict | None) -> bool:
    """Whether ``metadata`` satisfies ``where`` (``{"field": value}``, ``{"field": {"$op": v}}``,
    ``{"$and": [...]}``, ``{"$or": [...]}``)."""
    if not where:
        return True
    if not isinstance(where, dict):
        raise InvalidInputError(f"a filter must be a dict, not {type(where).__name__}")
    for key, cond in where.items():
        if key == "$and":
            ok = all(matches(metadata, c) for c in cond)
        elif key == "$or":
            ok = any(matches(metadata, c) for c in cond)
        elif isinstance(cond, dict):
            ok = True
            for op, value in cond.items():
                if op not in _OPS:
                    raise InvalidInputError(f"unsupported filter operator {op!r}")
                ok = ok and _OPS[op](metadata.get(key), value)
        else:
            ok = metadata.get(key) == cond
        if not ok:
            return False
    return True


def to_chroma(where: dict | None) -> dict[str, Any] | None:
    """Chroma wants ``$and`` for several fields at the top level; single fields pass as they are."""
    if not where:
        return None
    if len(where) > 1 and not any(k.startswith("$") for k in where):
        return {"$and": [{k: v} for k, v in where.items()]}
    return where
