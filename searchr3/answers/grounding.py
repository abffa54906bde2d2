"""Is an answer backed by its passages? Citation markers and the numbers and names it states.

An answer may cite ``[n]`` only for a passage that was shown, and should state no number, name,
file path or command-line option that is in neither the question nor the passages. :func:`unsupported_terms` finds such
terms; :class:`SupportFilter` applies both rules to a streamed answer sentence by sentence.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

_MARKER = re.compile(r"\s?\[(\d+)\]")
_NUMBER = re.compile(r"\d+(?:[.,:/]\d+)*")
_NAME = re.compile(r"\b[A-Z][a-zA-Z]*(?:[-'][A-Za-z]+)*\b")
_LETTER = re.compile(r"[A-Za-z]")
# A file path (absolute, home or dot-relative, two parts or more) or a long option: invented ones are
# what a small reader states most confidently ("typically located at /etc/apache2/apache2.conf").
_PATH = re.compile(r"(?<![\w/~.])(?:~|\.{1,2})?/[\w.-]+(?:/[\w.-]+)+")
_OPTION = re.compile(r"(?<![\w-])--[A-Za-z][\w-]+")
_LIST_NUMBER = re.compile(r"(?m)^[\s>*-]*\d+[.)]\s")  # "1. " opening a numbered line
# Code in a sentence: a code span, a backslash command, an option, a dotted, slashed or underscored name.
_CODELIKE = re.compile(r"`|\\\w|(?<!\w)--?\w|\w[_/.]\w")
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+|\n\s*\n")
# Capitalized words that name nothing.
_COMMON = {"I", "A", "An", "The", "In", "On", "It", "If", "This", "That", "These", "Those", "You",
           "Yes", "No", "Note", "Answer", "Passage", "Passages", "Question", "See", "Also", "However"}


def cited(answer: str, n: int) -> list[int]:
    """Passage numbers (1..n) that ``answer`` cites as ``[i]``."""
    return sorted({int(m) for m in re.findall(r"\[(\d+)\]", answer) if 1 <= int(m) <= n})


def strip_bad_citations(text: str, n: int) -> tuple[str, list[int]]:
    """``text`` without markers ``[i]`` that point to no passage (i outside 1..n), and those i."""
    bad: list[int] = []

    def keep(m: re.Match) -> str:
        i = int(m.group(1))
        if 1 <= i <= n:
            return m.group(0)
        bad.append(i)
        return ""

    return _MARKER.sub(keep, text), bad


def _normal_number(s: str) -> str:
    return s.replace(",", "")


def terms_of(text: str) -> tuple[set[str], set[str]]:
    """The numbers (not those numbering a list) and the names (capitalized words not opening a
    sentence, acronyms) in ``text``."""
    numbers = {_normal_number(m) for m in _NUMBER.findall(_LIST_NUMBER.sub("", _MARKER.sub("", text)))}
    names: set[str] = set()
    for sentence in _SENTENCE_END.split(text):
        words = list(_NAME.finditer(sentence))
        for m in words:
            first = not _LETTER.search(sentence, 0, m.start())  # after only quote marks, bullets, digits
            word = m.group(0)
            if word in _COMMON or (first and not word.isupper()) or len(word) < 2:
                continue
            names.add(word)
    return numbers, names


def unsupported_terms(answer: str, sources: Iterable[str]) -> list[str]:
    """Numbers, names, file paths and long options in ``answer`` that appear in none of ``sources``
    (question and passages); names compare case-insensitively as whole words, numbers by their
    digits, paths and options as written."""
    sources = list(sources)
    known_numbers = {_normal_number(m) for s in sources for m in _NUMBER.findall(s)}
    known_words = {w.lower() for s in sources for w in re.findall(r"[A-Za-z][A-Za-z'-]*", s)}
    known_text = "\n".join(sources)
    numbers, names = terms_of(answer)
    spelled = {m.rstrip(".") for m in _PATH.findall(answer) + _OPTION.findall(answer)}
    missing = sorted(term for term in spelled if term not in known_text)
    inside = "".join(missing)  # numbers and names of a missing path are already said
    missing += [n for n in sorted(numbers) if n not in known_numbers and n not in inside]
    missing += [w for w in sorted(names) if w.lower() not in known_words]
    return missing


@dataclass
class SupportReport:
    """What :class:`SupportFilter` removed from an answer."""

    bad_citations: list[int] = field(default_factory=list)
    dropped: list[tuple[str, list[str]]] = field(default_factory=list)  # (sentence, its unsupported terms)

    def notes(self) -> list[str]:
        """One line per kind of removal, for the reader."""
        out = []
        if self.bad_citations:
            marks = ", ".join(f"[{i}]" for i in sorted(set(self.bad_citations)))
            out.append(f"Removed citation {marks}: no such passage was shown.")
        if self.dropped:
            terms = sorted({t for _, ts in self.dropped for t in ts})
            out.append(f"Left out {len(self.dropped)} sentence(s) stating what the passages do not say"
                       f" ({', '.join(terms[:6])}).")
        return out


class SupportFilter:
    """Checks a streamed answer one sentence at a time against the question and passages.

    :meth:`feed` takes generated text and returns what may be shown so far: whole sentences
    whose numbers and names all appear in the question or the passages, with markers to
    missing passages removed; a sentence that introduces the next with a colon ("For example:") is
    held until that one is checked, and left out with it unless it names code of its own.
    :meth:`flush` checks the last, unfinished sentence.
    """

    def __init__(self, question: str, passages: Sequence[str]):
        self.n = len(passages)
        self.sources = [question, *passages]
        self.report = SupportReport()
        self._pending = ""
        self._lead = ""  # a kept sentence that introduces the next ("For example:"), held until that is checked

    def _check(self, sentence: str, end: str = "") -> str | None:
        """The sentence as it may be shown, or ``None`` when it is left out."""
        text, bad = strip_bad_citations(sentence, self.n)
        self.report.bad_citations += bad
        missing = unsupported_terms(text, self.sources)
        if missing:
            self.report.dropped.append((text.strip(), missing))
            return None
        return text + end

    def _kept(self, checked: str | None) -> str:
        """What may be shown after a sentence was checked (``checked``: it, or ``None`` when left out):
        a sentence ending with a colon waits for the one it introduces and is left out with it, unless
        it names code of its own (``\\l``, ``--jobs``, ``pg_dump``)."""
        if checked is None:  # (a lead-in naming a command or option of its own stays)
            lead, self._lead = self._lead, ""
            return lead if _CODELIKE.search(lead) else ""
        if self._lead and not checked.strip():  # blank space after a lead-in waits with it
            self._lead += checked
            return ""
        lead, self._lead = self._lead, ""
        if checked.rstrip().endswith(":"):
            self._lead = lead + checked
            return ""
        return lead + checked

    def feed(self, piece: str) -> str:
        self._pending += piece
        out, start = [], 0
        for m in _SENTENCE_END.finditer(self._pending):
            out.append(self._kept(self._check(self._pending[start:m.start()], m.group(0))))
            start = m.end()
        self._pending = self._pending[start:]
        return "".join(out)

    def flush(self) -> str:
        rest, self._pending = self._pending, ""
        shown = self._kept(self._check(rest)) if rest.strip() else rest
        lead, self._lead = self._lead, ""  # (a lead-in at the very end: nothing came to leave it out for)
        return lead + shown

    def stream(self, pieces: Iterable[str]) -> Iterator[str]:
        """Filter a whole stream of pieces (what :meth:`feed` and :meth:`flush` let through)."""
        for piece in pieces:
            out = self.feed(piece)
            if out:
                yield out
        out = self.flush()
        if out:
            yield out


_CODE = re.compile(r"`([^`\n]+)`")
_TOKEN = re.compile(r"[A-Za-z0-9_\\/.$%{}:=+-]*[A-Za-z0-9_\\/$%{}=+-]")


def _distinctive(text: str) -> set[str]:
    """Tokens of ``text`` that identify a statement: words of 4+ characters and anything with a
    digit, dash, slash, backslash, dot, underscore or dollar in it (commands, options, paths)."""
    return {t.lower() for t in _TOKEN.findall(text)
            if len(t) >= 4 or any(c in t for c in "0123456789-/\\._$%=")}


def attribute(answer: str, passages: Sequence[str]) -> list[int]:
    """The passages (1-based) an uncited answer rests on: those holding one of its code spans
    (inline, or a line of a fenced block) where it has any, else the one sharing most of its
    distinctive tokens (at least three); ``[]`` when none does. A reader model that does not
    cite still gets citations a person can check: each named passage holds what the answer states."""
    fenced = answer.split("```")[1::2]  # code blocks (the last may be left open): their lines, not the language
    lines = [line.strip() for block in fenced for line in block.splitlines()[1:] if len(line.strip()) >= 4]
    spans = lines + [s.strip() for s in _CODE.findall(answer.replace("```", "")) if s.strip()]
    if spans:
        holding = [i + 1 for i, p in enumerate(passages) if any(s in p for s in spans)]
        if holding:
            return holding[:2]
    words = _distinctive(_CODE.sub(r"\1", answer))
    shared = [len(words & _distinctive(p)) for p in passages]
    best = max(range(len(passages)), key=lambda i: shared[i], default=None)
    return [best + 1] if best is not None and shared[best] >= 3 else []
