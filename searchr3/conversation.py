"""Follow-up questions: turn a question that leans on earlier turns into a standalone search.

"And how do I undo that?" retrieves nothing useful on its own. :func:`standalone_query`
detects a follow-up (a pronoun or demonstrative pointing back, an opening like "and" or
"what about", or a question with almost no content words) and appends the content terms of
the previous search, so the search carries its topic. The rewrite is deterministic and only
adds words the user typed earlier: it never invents a topic, and the page shows it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

# Words that point back to something said before.
_REFERRING = {
    "it", "its", "it's", "that", "this", "these", "those", "they", "them", "their", "theirs",
    "he", "she", "him", "her", "his", "there", "one", "ones", "same", "former", "latter",
    "such", "above", "previous", "instead", "else", "also", "too", "again",
}
# Openings of a question that continues the last one.
_OPENINGS = ("and ", "but ", "or ", "so ", "then ", "what about", "how about", "what if", "why not",
             "and?", "also ", "ok ", "okay ")
# Function words: neither topic nor reference.
_STOP = {
    "a", "an", "the", "of", "to", "in", "on", "at", "by", "for", "with", "from", "into", "about", "as",
    "is", "are", "was", "were", "be", "been", "being", "am", "do", "does", "did", "done", "doing",
    "have", "has", "had", "can", "could", "should", "would", "will", "shall", "may", "might", "must",
    "i", "me", "my", "we", "us", "our", "you", "your", "what", "which", "who", "whom", "whose",
    "when", "where", "why", "how", "not", "no", "yes", "if", "than", "so", "and", "or", "but",
    "then", "please", "tell", "explain", "show", "know", "get", "make", "way", "ways", "any",
    "some", "all", "more", "most", "much", "many", "there", "here", "just", "only", "very",
    "want", "need", "use", "using", "used", "mean", "means", "thing", "things", "happens",
}
_CONTEXT = re.compile(r" \(([^()]*)\)$")
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+#'-]*")

# How many earlier user turns may lend context.
MAX_TURNS = 3
MAX_CONTEXT_TERMS = 8


def _words(text: str) -> list[str]:
    return [w.rstrip(".'") for w in _WORD.findall(text)]


def content_terms(text: str) -> list[str]:
    """The words of ``text`` that carry its topic, in order, without repeats (case-folded)."""
    seen: list[str] = []
    for w in _words(text):
        low = w.lower()
        if low not in _STOP and low not in _REFERRING and len(low) > 1 and low not in seen:
            seen.append(low)
    return seen


def is_follow_up(question: str) -> bool:
    """Whether ``question`` likely depends on an earlier turn to be understood."""
    low = question.strip().lower()
    if low.startswith(_OPENINGS):
        return True
    words = [w.lower() for w in _words(low)]
    if any(w in _REFERRING for w in words):
        return True
    return not content_terms(question)  # "why?", "and then?"


def split_search(search: str) -> tuple[str, list[str]]:
    """A search made by :func:`standalone_query` split into the question and its context terms
    (``[]`` when it has none)."""
    m = _CONTEXT.search(search)
    if not m:
        return search, []
    return search[: m.start()], m.group(1).split()


def _rewrite(question: str, earlier: Sequence[str]) -> str:
    if not earlier or not is_follow_up(question):
        return question
    own = set(content_terms(question))
    for turn in reversed(earlier):  # the nearest earlier search with new terms sets the topic
        terms = [t for t in content_terms(turn) if t not in own]
        if terms:
            return f"{question} ({' '.join(terms[:MAX_CONTEXT_TERMS])})"
    return question


def standalone_query(question: str, history: Sequence[str] = ()) -> str:
    """``question`` as a search that stands alone, given the earlier user questions ``history``
    (oldest first, as typed).

    The last :data:`MAX_TURNS` earlier questions are made standalone in turn, so a chain of
    follow-ups keeps its topic. A question that is not a follow-up, or has no history, is
    returned unchanged; otherwise the topic terms of the nearest earlier search that the
    question lacks are appended in parentheses: ``"and how do I delete it? (create branch git)"``.
    """
    searches: list[str] = []
    for turn in [h.strip() for h in history if h and h.strip()][-MAX_TURNS:]:
        searches.append(_rewrite(turn, searches))
    return _rewrite(question.strip(), searches)
