"""``SearchOptions``: how one search runs (k, reasoning, hybrid, filter, hybrid depth).

One value type for :meth:`Searcher.search <searchr3.retrieval.searcher.Searcher.search>`, the retriever
(its options, with per-call overrides merged on top) and the web page's settings.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

from searchr3.errors import InvalidInputError


@dataclass(frozen=True)
class SearchOptions:
    """How to search.

    Attributes:
        k: passages returned.
        reasoning: the model writes a reasoning trace before the query's embed token.
        hybrid: mix dense and BM25 scores (the default: it wins on every dev set, docs/fusion.md).
        filter: a Chroma ``where`` filter on chunk metadata (``{"file_name": "a.txt"}``,
            ``{"page": {"$gte": 3}}``, ``{"$or": [...]}``); applied to both rankings.
        candidates: how deep each side goes before hybrid fusion.
    """

    k: int = 4
    reasoning: bool = False
    hybrid: bool = True
    filter: dict[str, Any] | None = None
    candidates: int = 100

    def __post_init__(self) -> None:
        for name in ("k", "candidates"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InvalidInputError(f"{name} must be a whole number of at least 1, not {value!r}")
        if self.filter is not None and not isinstance(self.filter, dict):
            raise InvalidInputError(f"a filter must be a dict, not {type(self.filter).__name__}")

    def merged(self, **overrides: Any) -> SearchOptions:
        """These options with ``overrides`` applied (``filter=None`` clears a filter).

        Raises ``TypeError`` naming any override that is not an option, and
        :class:`InvalidInputError` for a value out of range.
        """
        unknown = set(overrides) - {f.name for f in fields(self)}
        if unknown:
            raise TypeError(f"unknown search option(s): {', '.join(sorted(unknown))}")
        return replace(self, **overrides) if overrides else self
