"""Evidence in a passage: its sentences, and which of them best match a question.

The page highlights the best sentences of each retrieved passage, and the extractive answer
quotes them. Scoring is lexical (question terms, lightly stemmed, weighted by how rare they
are among the shown passages' sentences), so it is instant and a reader can see why a
sentence was picked: it shares the question's distinctive words.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace

from searchr3.embedding.reasoning import TraceCallback
from searchr3.retrieval.conversation import content_terms, split_search
from searchr3.retrieval.options import SearchOptions
from searchr3.retrieval.searcher import RankedHit, Searcher, SearchResult

# A sentence ends at . ! ? (with closing quotes/brackets) followed by space and a capital,
# digit or opening quote, or at a blank line.
_BOUNDARY = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9])|\n\s*\n")
_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_+#-]*")
_SUFFIXES = ("ations", "ation", "ings", "ing", "ies", "ied", "es", "ed", "ly", "s")


@dataclass(frozen=True)
class Sentence:
    """A sentence of a passage: its text and where it lies in the passage (``text[start:end]``)."""

    start: int
    end: int
    text: str


def sentences(text: str) -> list[Sentence]:
    """The sentences of ``text`` with their character spans (blank ones dropped). A term paragraph
    (:func:`is_term`: an option or command entry's "-Z --analyze-only") belongs to the sentence after
    it: the two are one sentence, so a sentence describing an option is found, quoted and
    highlighted with the option it describes."""
    found, start = [], 0
    for m in _BOUNDARY.finditer(text):
        found.append((start, m.start()))
        start = m.end()
    found.append((start, len(text)))
    out: list[Sentence] = []
    for a, b in found:
        piece = text[a:b]
        lead = len(piece) - len(piece.lstrip())
        body = piece.strip()
        if not body:
            continue
        here = Sentence(a + lead, a + lead + len(body), body)
        prev = out[-1] if out else None
        if prev and is_term(prev.text) and "\n\n" in text[prev.end : here.start]:
            out[-1] = Sentence(prev.start, here.end, text[prev.start : here.end])
        else:
            out.append(here)
    return out


def stem(word: str) -> str:
    """A crude English stem, enough to match "deleting" with "delete" and "branches" with "branch"."""
    w = word.lower()
    for suffix in _SUFFIXES:
        if w.endswith(suffix) and len(w) - len(suffix) >= 3:
            w = w[: -len(suffix)]
            break
    return w.rstrip("e") if len(w) > 3 else w


def _stems(text: str) -> set[str]:
    return {stem(t) for t in _TOKEN.findall(text)}


@dataclass(frozen=True)
class Evidence:
    """A scored sentence of passage ``passage`` (0-based position in the list given)."""

    passage: int
    sentence: Sentence
    score: float


CONTEXT_WEIGHT = 0.5

# What the question asks for: a "how do I …" or "which option …" question wants the command or
# option, so a sentence that holds command syntax counts COMMAND_WEIGHT more. On the answer dev set
# (bench/answers.py) this lifted quoting from 28.4% to 34.0% of answers holding the literal.
_ASKS_FOR_COMMAND = re.compile(
    r"\b(how (do|can|would|should|to)|(which|what) (option|flag|command|switch|setting|parameter|variable|"
    r"function|directive|module)|is there (an? )?(option|flag|command|way|setting))\b", re.IGNORECASE)
_COMMAND_SYNTAX = re.compile(
    r"(?:^|\s)(?:\\[a-z]+|--?[A-Za-z][\w-]*)(?=[\s\[=,.:;)]|$)"  # \l, -j, --jobs
    r"|`[^`]+`|\$ \w|^\s*[#$>]\s"  # `code`, a shell prompt
    r"|\b[a-z]+_[a-z_]+\b|\b[A-Z]{3,}(?: [A-Z]{2,})+\b"  # snake_case names, SQL keyword runs
)
COMMAND_WEIGHT = 1.0
# A question about what happens when nothing is set ("out of the box", "if I don't specify one"), or
# one that names a default, asks for the manual's "The default is …": "default" counts as a term, and
# a sentence saying it counts DEFAULT_WEIGHT more. On the answer dev set (cached passages) quoting
# held the literal in 39.2% without this and 40.4% with it.
_ASKS_FOR_DEFAULT = re.compile(
    r"\b(by default|out of the box|if (I|you|we) (don't|do not|didn't|never) (give|set|specify|say|pass|use|choose)"
    r"|without (giving|setting|specifying|passing)|unless (I|you) (give|set|specify|say|pass))\b", re.IGNORECASE)
_DEFAULT = re.compile(r"\bdefaults?\b", re.IGNORECASE)
DEFAULT_WEIGHT = 1.0


def asks_for_default(question: str) -> bool:
    """Whether ``question`` asks what happens when nothing is set (a default), in other words."""
    return bool(_ASKS_FOR_DEFAULT.search(question))


def asks_for_command(question: str) -> bool:
    """Whether ``question`` asks how to do something, or for an option, command or setting."""
    return bool(_ASKS_FOR_COMMAND.search(question))


def holds_command(sentence: str) -> bool:
    """Whether ``sentence`` holds command syntax: a backslash command, an option, code, a prompt."""
    return bool(_COMMAND_SYNTAX.search(sentence))


def score_sentences(query: str, passages: Sequence[str]) -> list[list[Evidence]]:
    """Every sentence of every passage scored against ``query``: the summed rarity (IDF over
    all sentences given) of the query's content stems it contains, divided by a mild length
    penalty; terms a follow-up borrowed from earlier turns count :data:`CONTEXT_WEIGHT`; when the
    question asks for a command or option, a sentence that holds one counts :data:`COMMAND_WEIGHT`
    more; when it asks for a default, a sentence that names one counts :data:`DEFAULT_WEIGHT` more.
    One list per passage, in passage order; sentences in text order."""
    question, context = split_search(query)
    boost = 1 + COMMAND_WEIGHT if asks_for_command(question) else 1.0
    wants_default = asks_for_default(question) or bool(_DEFAULT.search(question))
    weight = {stem(t): CONTEXT_WEIGHT for t in context}
    weight.update({stem(t): 1.0 for t in content_terms(question)})
    if wants_default:
        weight[stem("default")] = 1.0
    terms = set(weight)
    split = [sentences(p) for p in passages]
    bags = [[_stems(s.text) for s in group] for group in split]
    n = sum(len(g) for g in bags) or 1
    df = Counter(t for group in bags for bag in group for t in bag & terms)
    idf = {t: weight[t] * math.log(1 + n / (df[t] + 0.5)) for t in terms}
    scored = []
    for i, (group, group_bags) in enumerate(zip(split, bags)):
        row = []
        for s, bag in zip(group, group_bags):
            hit = sum(idf[t] for t in bag & terms)
            score = hit / (1 + math.log1p(len(bag) / 12)) if hit else 0.0
            if score and holds_command(s.text):
                score *= boost
            if score and wants_default and _DEFAULT.search(s.text):
                score *= 1 + DEFAULT_WEIGHT
            row.append(Evidence(i, s, score))
        scored.append(row)
    return scored


# The passages a chat answers from: the search's best RERANK_DEPTH, re-ordered by their score plus
# RERANK_WEIGHT times the evidence of their best sentence, the first k kept. On the answer dev set
# (hybrid search) the answer passage is among the 4 shown for 63.6% of the questions without it,
# 70.8% with the best 8 and weight 0.1, 74.8% with the best 16 and 0.2 (chosen on the even questions
# among depths 8-16 and weights 0.1-0.3, 75.2%; the odd ones 74.4%; PostgreSQL 74.1 -> 79.0%, Bash
# 64.8 -> 67.0% against 8 and 0.1; docs/answers.md).
RERANK_DEPTH = 16
RERANK_WEIGHT = 0.2


def rerank(query: str, hits: Sequence[RankedHit], k: int) -> list[RankedHit]:
    """The ``k`` passages to answer ``query`` from: those of ``hits`` with the highest search score
    plus :data:`RERANK_WEIGHT` times their best sentence's evidence (:func:`score_sentences`, so a
    passage holding the command a how-to question asks for gets in), shown in the order of their
    search scores (which stay as they were), ranks renumbered."""
    def best(hit: RankedHit) -> float:
        return max((e.score for e in score_sentences(query, [hit.text])[0]), default=0.0)

    chosen = sorted(hits, key=lambda h: -(h.score + RERANK_WEIGHT * best(h)))[:k]
    shown = sorted(chosen, key=lambda h: -h.score)
    return [replace(h, rank=r) for r, h in enumerate(shown, 1)]


def search_to_answer(searcher: Searcher, query: str, options: SearchOptions,
                     on_trace: TraceCallback | None = None) -> SearchResult:
    """What a chat answers ``query`` from: ``searcher``'s best :data:`RERANK_DEPTH` (or
    ``options.k``, if more), the ``options.k`` of them :func:`rerank` keeps."""
    found = searcher.search(query, options.merged(k=max(options.k, RERANK_DEPTH)), on_trace=on_trace)
    return replace(found, hits=rerank(query, found.hits, options.k))


def best_sentences(query: str, passages: Sequence[str], per_passage: int = 2) -> list[list[Evidence]]:
    """For each passage, its best ``per_passage`` sentences with a positive score (best first);
    a second sentence is kept only when it scores at least half the first."""
    out = []
    for row in score_sentences(query, passages):
        ranked = sorted((e for e in row if e.score > 0), key=lambda e: -e.score)[:per_passage]
        out.append([e for e in ranked if e.score >= ranked[0].score / 2] if ranked else [])
    return out


# A term paragraph names what the text after it describes: one short line, no sentence end, not
# code or a table row (a manual's option or command entry: "\\ef [ function_description ]", "-j njobs").
_TERM_WORDS = 12


def is_term(piece: str) -> bool:
    """Whether ``piece`` reads as a term: one line of at most :data:`_TERM_WORDS` words that does not
    end a sentence and is not code (a fence or backticks) or a table row."""
    piece = piece.strip()
    return (bool(piece) and "\n" not in piece and len(piece.split()) <= _TERM_WORDS
            and piece[-1] not in ".!?:" and piece[0] not in "`|")


def term_line(text: str) -> str | None:
    """The first line of ``text`` when it is a term (:func:`is_term`) and more text follows, else ``None``."""
    first, _, rest = text.strip().partition("\n")
    return first.strip() if rest.strip() and is_term(first) else None


def excerpt(query: str, text: str, max_words: int = 90) -> str:
    """The part of ``text`` a reader needs for ``query``: its best-matching sentence, widened by
    the sentences around it (next, then previous, in turn) up to about ``max_words`` words; the
    start of the text when no sentence matches. Whitespace inside is kept (code keeps its lines).
    An excerpt that starts later than a passage's term line (:func:`term_line`) is led by it, so
    the reader knows which option or command the sentences describe."""
    found = sentences(text)
    if not found or len(text.split()) <= max_words:
        return text.strip()
    (row,) = score_sentences(query, [text])
    best = max(range(len(row)), key=lambda i: row[i].score) if any(e.score for e in row) else 0
    lo = hi = best
    words = len(found[best].text.split())
    while True:
        grown = False
        for j in (hi + 1, lo - 1):
            if 0 <= j < len(found) and not lo <= j <= hi:
                extra = len(found[j].text.split())
                if words + extra > max_words:
                    continue
                lo, hi, words, grown = min(lo, j), max(hi, j), words + extra, True
        if not grown:
            break
    body = text[found[lo].start : found[hi].end]
    term = term_line(text) if lo > 0 else None
    lead = f"{term}\n… " if term else ("… " if lo > 0 else "")
    return lead + body + (" …" if hi < len(found) - 1 else "")
