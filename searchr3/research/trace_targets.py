"""Reasoning traces built from text instead of generated: what a useful trace would say.

A trace helps retrieval when it names what a relevant passage contains and the query does
not: the passage's heading and its distinctive terms, not an answer. Built from a query's
known positive passage such a trace is an *oracle* (the upper reference of the trace
diagnostics, :mod:`searchr3.eval.traces`); stage-1 training can use the same builder for
trace targets. The model can be made to write the same format by opening its assistant turn
with :data:`OPENING` (:func:`opened_traces`; :func:`opened_trace` keeps the first sentence of its
continuation).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING

from searchr3.answers.evidence import sentences, stem
from searchr3.retrieval.conversation import content_terms

if TYPE_CHECKING:
    from searchr3.embedding.embedder import Embedder
    from searchr3.embedding.reasoning import Sampling

_WORD = re.compile(r"[a-z][a-z0-9_]+")
#: The opening of every term-list trace; written first, the model continues it.
OPENING = "Looking for a passage that mentions"
#: Tokens a continuation of :data:`OPENING` may take (a term list is short).
OPENED_TOKENS = 24


class TermWeights:
    """Inverse document frequencies of word stems over a corpus."""

    def __init__(self, texts: Sequence[str]):
        self.n = len(texts)
        self.df: Counter = Counter()
        for text in texts:
            self.df.update({stem(w) for w in content_terms(text)})

    def idf(self, word: str) -> float:
        return math.log((self.n + 1) / (self.df[stem(word)] + 1)) + 1.0


def distinctive_terms(passage: str, query: str, weights: TermWeights, k: int = 8) -> list[str]:
    """Up to ``k`` words of ``passage`` that the query lacks, most distinctive first
    (frequency in the passage × rarity in the corpus; numbers and one-letter words left out)."""
    asked = {stem(part) for w in content_terms(query) for part in [w, *re.split(r"[-._/]", w)] if part}
    words = [w for w in content_terms(passage) if stem(w) not in asked and not w.replace(".", "").isdigit()]
    counts = Counter(stem(w) for w in _all_words(passage))
    scored = sorted(words, key=lambda w: (-counts[stem(w)] * weights.idf(w), words.index(w)))
    chosen: list[str] = []
    for w in scored:
        if stem(w) not in {stem(c) for c in chosen}:
            chosen.append(w)
        if len(chosen) == k:
            break
    return chosen


def _all_words(text: str) -> list[str]:
    """Every word occurrence (``content_terms`` keeps only the first of each)."""
    return _WORD.findall(text.lower())


def passage_trace(query: str, passage: str, weights: TermWeights, heading: str | None = None, k: int = 8) -> str:
    """A short trace that points at ``passage``: its heading (when given) and its distinctive terms."""
    terms = distinctive_terms(passage, query, weights, k)
    about = f"a passage titled {heading!r}" if heading else "a passage"
    if not terms:
        return f"Looking for {about}."
    listed = ", ".join(terms[:-1]) + (f" and {terms[-1]}" if len(terms) > 1 else terms[-1])
    return f"Looking for {about} that mentions {listed}."


def opened_trace(continuation: str) -> str:
    """:data:`OPENING` and the first sentence of the first line of the model's continuation."""
    found = sentences(continuation.split("\n")[0])
    return f"{OPENING} {found[0].text if found else ''}".rstrip()


def opened_traces(embedder: Embedder, texts: Sequence[str], sampling: Sampling | None = None) -> list[tuple[int, str]]:
    """The model continues :data:`OPENING` after each text (greedy, or ``sampling.num_samples``
    samples a text): ``(text index, opened trace)`` per continuation."""
    written = embedder.traces(texts, sampling, max_new_tokens=OPENED_TOKENS, opening=OPENING)
    return [(t.query_index, opened_trace(t.text)) for t in written]
