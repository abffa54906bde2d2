"""Answers from retrieved passages: quoted (extractive) or written by a chat model and checked.

- :class:`ExtractiveAnswerer` quotes the sentences of the best passages that best match the
  question, each with its citation. It cannot state anything the passages do not say, and it
  needs no generation: the default for the embedded 135 M model, which embroiders when it writes.
- :class:`GenerativeAnswerer` has any LangChain chat model (the local one, or an
  OpenAI-compatible endpoint) write the answer, then passes it through
  :class:`~searchr3.answers.grounding.SupportFilter`: sentences that state a number or name found in
  neither the question nor the passages are left out, and markers to missing passages removed;
  the answer ends by saying what was removed. An answer that cites nothing is given the
  citations of the passages that hold what it states (:func:`~searchr3.answers.grounding.attribute`).
  The passages' best-matching sentence follows, quoted with its citation.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Protocol

from searchr3.answers.evidence import excerpt, score_sentences
from searchr3.answers.grounding import SupportFilter, attribute, cited
from searchr3.retrieval.searcher import RankedHit

ANSWER_SYSTEM = (
    "Answer the question using only the documentation excerpts given. Give the exact command, option, value "
    "or name it asks for, in one or two sentences. If the excerpts do not answer it, say so briefly."
)
# A reader reads about this many words of each passage: the sentences around its best match
# (the prompt's prefill is what a CPU answer costs). On the answer dev set's even questions the
# 0.5 B reader held the literal in 52.0% with 90 words and 55.2% with 150 (first text 2.75 s and
# 2.76 s p50 in that run): the literal lies in the excerpts for 69.2% and 74.0% of the questions.
EXCERPT_WORDS = 150
# New tokens an answer model may write (one or two sentences need ~60; a longer answer is cut here).
ANSWER_TOKENS = 160
NOTHING_MATCHES = "None of the passages found shares the question's terms; see the passages beside the answer."
ANSWER_MODES = ("extract", "generate")


def answer_prompt(question: str, hits: Sequence[RankedHit], excerpt_words: int | None = None) -> str:
    """The user turn a chat model answers: the question, the numbered passages (with
    ``excerpt_words``, only the part of each around its best match), then the question again (a
    small reader keeps to the question best when it comes last)."""
    texts = [excerpt(question, h.text, excerpt_words) if excerpt_words else h.text for h in hits]
    passages = "\n\n".join(f"Excerpt {h.rank}:\n{text}" for h, text in zip(hits, texts))
    return f"Question: {question}\n\n{passages}\n\nQuestion: {question}"


class Answerer(Protocol):
    """Streams an answer to ``question`` from the numbered ``hits``."""

    def stream(self, question: str, hits: Sequence[RankedHit], **settings) -> Iterator[str]: ...


def _joined(text: str, evidence) -> str:
    """The chosen sentences of ``text`` in text order, whitespace collapsed; " … " marks a gap. A
    fenced code block keeps its lines (and stands on lines of its own)."""
    spans = sorted((e.sentence.start, e.sentence.end) for e in evidence)
    pieces = [text[a:b] if "```" in text[a:b] else " ".join(text[a:b].split()) for a, b in spans]
    code = any("```" in piece for piece in pieces)
    out = pieces[0]
    for (_, end), (start, _), piece in zip(spans, spans[1:], pieces[1:]):
        gap = bool(text[end:start].strip())
        out += ("\n…\n" if gap else "\n\n") + piece if code else (" … " if gap else " ") + piece
    return out


def _quoted(body: str, rank: int) -> str:
    """``body`` as a Markdown quote with its citation (after a code block, on a line of its own)."""
    lines = "\n".join(f"> {line}".rstrip() for line in body.splitlines())
    return lines + (f"\n> [{rank}]" if body.rstrip().endswith("```") else f" [{rank}]")


# Sentences quoted under a written answer (a second only when it scores at least QUOTE_RELATIVE of the
# best). On the answer dev set's even questions (bench/answers.py) the written part held the literal in
# 41.6%; with the best sentence quoted under it 56.8%, with the two best 65.6% (words p50 57 -> 76).
QUOTED = 2
QUOTE_RELATIVE = 0.5


def _said(quote: str, answer: str) -> bool:
    """Whether ``answer`` already holds the quote's sentence (its words, without the ``> `` marks and
    the citation; spacing aside)."""
    body = re.sub(r"\s*\[\d+\]$", "", "\n".join(line[1:] for line in quote.strip().splitlines()).strip())
    return " ".join(body.split()) in " ".join(answer.split())


class ExtractiveAnswerer:
    """Quotes the best-matching sentences of all the passages shown: the ``sentences`` best (at most
    ``per_passage`` from one passage, none under ``relative`` times the best one's score), grouped by
    passage (best first), each group in text order with its citation. Chosen on the answer dev set:
    the 3 best sentences of all passages hold the answer in 36.4% of questions, against 30.8% for the
    2 best of each of the first two passages (``bench/answers.py``)."""

    mode = "extract"

    def __init__(self, sentences: int = 3, per_passage: int = 3, relative: float = 0.3):
        self.sentences, self.per_passage, self.relative = sentences, per_passage, relative

    def stream(self, question: str, hits: Sequence[RankedHit], **settings) -> Iterator[str]:
        rows = score_sentences(question, [h.text for h in hits])
        ranked = sorted((e for row in rows for e in row if e.score > 0), key=lambda e: -e.score)
        if not ranked:
            yield NOTHING_MATCHES
            return
        chosen: dict[int, list] = {}  # passage -> its chosen sentences; insertion order: best passage first
        for e in ranked:
            if e.score < self.relative * ranked[0].score or sum(map(len, chosen.values())) == self.sentences:
                break
            if len(chosen.setdefault(e.passage, [])) < self.per_passage:
                chosen[e.passage].append(e)
        for i, (passage, evidence) in enumerate(chosen.items()):
            hit = hits[passage]
            quote = _joined(hit.text, _with_lead_ins(evidence, rows[passage]))
            yield ("\n\n" if i else "") + _quoted(quote, hit.rank)


def _with_lead_ins(evidence: list, row: list) -> list:
    """``evidence`` and, before each code block in it, the sentence that introduces the block (the one
    just before it, ending with a colon: "add the following directive to your apache2.conf file:")."""
    out = list(evidence)
    for e in evidence:
        at = row.index(e)
        lead = row[at - 1] if at else None
        if e.sentence.text.startswith("```") and lead and lead.sentence.text.endswith(":") and lead not in out:
            out.append(lead)
    return out


class GenerativeAnswerer:
    """A chat model writes the answer (``settings``: ``max_tokens``, ``temperature`` for this
    call); with ``checked`` (default) unsupported sentences and bad markers are removed, and the
    passages' best-matching sentences are quoted with their citations (``quote``: at most how many;
    none under a ``max_tokens`` limit), so the manual's own words stand beside the answer.
    ``quotes_first``: the quotes come at once, before the written answer (a reader that takes
    seconds to start still shows the manual's words at once); else after it, each left out when
    the answer holds it already. ``excerpt_words``: show the model only that many words of each
    passage around its best match (``None``: whole passages)."""

    mode = "generate"

    def __init__(self, chat_model, checked: bool = True, excerpt_words: int | None = None, quote: int = QUOTED,
                 quotes_first: bool = False):
        self.chat = chat_model
        self.checked = checked
        self.excerpt_words = excerpt_words
        self.quote = quote
        self.quotes_first = quotes_first

    def _quotes(self, question: str, hits: Sequence[RankedHit]) -> list[str]:
        """The quotes, one a passage (none when nothing matches)."""
        pieces = ExtractiveAnswerer(sentences=self.quote, relative=QUOTE_RELATIVE).stream(question, hits)
        return [q for q in (piece.lstrip("\n") for piece in pieces) if q.startswith("> ")]  # (not NOTHING_MATCHES)

    def stream(self, question: str, hits: Sequence[RankedHit], **settings) -> Iterator[str]:
        prompt = answer_prompt(question.strip(), hits, self.excerpt_words)
        messages = [("system", ANSWER_SYSTEM), ("human", prompt)]
        pieces = (chunk.text for chunk in configured(self.chat, **settings).stream(messages))
        if not self.checked:
            yield from pieces
            return
        quoting = bool(self.quote) and not settings.get("max_tokens")  # (a caller's length limit holds)
        first = self._quotes(question, hits) if quoting and self.quotes_first else []
        if first:
            yield "\n\n".join(first)
        check = SupportFilter(question, [h.text for h in hits])
        shown = ""
        for text in check.stream(pieces):
            yield ("\n\n" if first and not shown else "") + text
            shown += text
        if shown.strip() and not cited(shown, len(hits)):  # the model did not cite: name what holds it
            found = attribute(shown, [h.text for h in hits])
            if found:
                markers = "".join(f"[{hits[i - 1].rank}]" for i in found)
                left_open = shown.count("```") % 2 == 1
                if left_open:  # a code block the model left open is closed first
                    yield "\n```"
                yield ("\n\n" if left_open or shown.rstrip().endswith("```") else " ") + markers
        if shown.strip() and quoting and not self.quotes_first:
            fresh = [q for q in self._quotes(question, hits) if not _said(q, shown)]  # (unless it says them)
            if fresh:
                yield "\n\n" + "\n\n".join(fresh)
        notes = check.report.notes()
        if notes:
            yield ("\n\n" if shown.strip() or first else "") + "_" + " ".join(notes) + "_"
        if not shown.strip() and not first:  # nothing the passages back: say what they do say
            yield "\n\nWhat the passages say:\n\n"
            yield from ExtractiveAnswerer().stream(question, hits)


def configured(chat_model, max_tokens: int | None = None, temperature: float | None = None):
    """``chat_model`` with this call's token limit and temperature (unchanged where ``None``)."""
    updates: dict = {}
    if max_tokens:
        fields = type(chat_model).model_fields
        name = next((f for f in ("max_new_tokens", "max_tokens", "max_completion_tokens") if f in fields), None)
        if name is None:
            raise TypeError(f"{type(chat_model).__name__} has no token limit field")
        updates[name] = max_tokens
    if temperature is not None:
        updates["temperature"] = temperature
    return chat_model.model_copy(update=updates) if updates else chat_model
