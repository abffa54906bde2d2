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

# Words that may point back to something said before ("undo that", "is it safe?"); in a
# question with a topic of its own they usually point inside it ("a branch after merging it").
_REFERRING = {
    "it", "its", "it's", "that", "this", "these", "those", "they", "them", "their", "theirs",
    "he", "she", "him", "her", "his", "there", "one", "ones", "same", "former", "latter",
    "such", "above", "previous", "instead", "else", "also", "too", "again",
}
# The pronouns among them that name the topic itself when nothing before them does.
_POINTERS = {"it", "its", "it's", "that", "this", "these", "those", "they", "them", "their", "one", "ones", "there"}
# Openings of a question that continues the last one.
_OPENINGS = ("and ", "but ", "or ", "so ", "then ", "what about", "how about", "what if", "why not",
             "and?", "also ", "ok ", "okay ")
# First words of an elliptical fragment ("in descending order?", "with a condition?").
_FRAGMENT_STARTS = {"in", "on", "at", "with", "without", "for", "from", "to", "into", "by", "via", "only", "just",
                    "the", "a", "an", "both", "another", "other", "multiple", "same", "even", "except"}
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
    "what's", "how's", "where's", "there's", "i'm", "don't", "doesn't", "can't", "isn't", "whether", "next",
}
# Words that ask for more of a topic without naming one ("an example", "the default").
_VAGUE = {"example", "examples", "detail", "details", "default", "defaults", "alternative", "alternatives",
          "difference", "differences", "pitfalls", "faster", "slower", "better", "safe", "possible", "work",
          "works", "again", "later", "now", "instead", "too", "also", "else"}
# "Is it safe to …", "would it be possible to …": an "it" that points ahead, at what follows "to".
_EXPLETIVE = re.compile(r"\b(?:is|was|isn't|would|will|does) it (?:\w+ ){1,2}to\b", re.IGNORECASE)
# A question with more topic words than this stands on its own whatever pronouns it holds.
_OWN_TOPIC = 3
_CONTEXT = re.compile(r" \(([^()]*)\)$")
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+#'-]*")

# How many earlier user turns may lend context.
MAX_TURNS = 3
MAX_CONTEXT_TERMS = 8


def _words(text: str) -> list[str]:
    return [w.rstrip(".'") for w in _WORD.findall(text)]


def _is_term(low: str) -> bool:
    return low not in _STOP and low not in _REFERRING and low not in _VAGUE and len(low) > 1


def content_terms(text: str) -> list[str]:
    """The words of ``text`` that carry its topic, in order, without repeats (case-folded)."""
    seen: list[str] = []
    for w in _words(text):
        low = w.lower()
        if _is_term(low) and low not in seen:
            seen.append(low)
    return seen


def is_follow_up(question: str) -> bool:
    """Whether ``question`` depends on an earlier turn to be understood.

    A question with more than :data:`_OWN_TOPIC` topic words stands alone, whatever it holds
    ("Which services start at boot and how do I disable them?"). Below that it leans on the
    last turn when it has no topic word ("why?", "show me an example"), opens as a continuation
    ("and …", "what about …"), is a fragment ("in descending order?"), or holds a pronoun that
    no topic word comes before ("which one is faster?"); with one or two topic words any
    referring word will do ("is that safe?", "does it work on macOS too?").
    """
    words = [w.lower() for w in _words(_EXPLETIVE.sub(lambda m: m[0].replace(" it ", " "), question.strip()))]
    terms = content_terms(question)
    if not terms:
        return True
    if len(terms) > _OWN_TOPIC:
        return False
    low = question.strip().lower()
    if low.startswith(_OPENINGS) or words[0] in _FRAGMENT_STARTS:
        return True
    if len(terms) < _OWN_TOPIC and any(w in _REFERRING for w in words):
        return True
    first_term = next(i for i, w in enumerate(words) if _is_term(w))
    return any(w in _POINTERS for w in words[:first_term])


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
