"""The answer dev set: questions a user would ask about two real manuals, each with the short
literal a correct answer must contain (a command, an option, a value, a path, a name) and the
sentence of the manual that states it.

250 questions (``qa.jsonl``) on 34 pages of the PostgreSQL 15 manual (``postgresql-doc-15``) and
the Bash reference manual (``bash-doc``): Debian packages no training source reads and none
reserved for independent evaluation. Written here from the pages' text; every row's evidence was
checked to be a verbatim part of its page and to hold one of its literals.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from searchr3.errors import SearchR3Error

QA_FILE = Path(__file__).with_name("qa.jsonl")
PACKAGES = ("postgresql-doc-15", "bash-doc")


@dataclass(frozen=True)
class QAItem:
    """One question: its accepted literals (any one will do), the page that answers it and the
    sentence there that does."""

    id: str
    question: str
    answers: tuple[str, ...]
    source: str
    evidence: str
    kind: str


def load_qa(path: Path = QA_FILE) -> list[QAItem]:
    """The questions, in file order."""
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [QAItem(r["id"], r["question"], tuple(r["answers"]), r["source"], r["evidence"], r["kind"]) for r in rows]


def qa_pages(items: list[QAItem]) -> list[Path]:
    """The pages the questions are about (the corpus to index). Raises :class:`SearchR3Error`
    naming the packages when they are not installed."""
    pages = sorted({Path(item.source) for item in items})
    missing = [p for p in pages if not p.is_file()]
    if missing:
        raise SearchR3Error(f"{len(missing)} page(s) of the answer dev set are missing, e.g. {missing[0]}"
                            f" (apt-get install {' '.join(PACKAGES)})")
    return pages


def _literal_pattern(literal: str) -> re.Pattern:
    """``literal`` as written, not inside a longer word: where it starts or ends with a letter or
    digit, no letter or digit may stand next to it (``-t`` is not found in ``-tz``, ``vi`` not in
    "via", ``2`` not in ``25``)."""
    head = r"(?<![A-Za-z0-9_])" if literal[:1].isalnum() or literal[:1] == "_" else ""
    tail = r"(?![A-Za-z0-9_])" if literal[-1:].isalnum() or literal[-1:] == "_" else ""
    if literal.startswith("-"):
        head = r"(?<![A-Za-z0-9_-])"
    return re.compile(head + re.escape(literal) + tail)


def contains_answer(text: str, item: QAItem) -> bool:
    """Whether ``text`` holds one of the item's literals, as a whole token (:func:`_literal_pattern`)."""
    return any(_literal_pattern(literal).search(text) for literal in item.answers)


def holds_evidence(passage_text: str, source: str, item: QAItem) -> bool:
    """Whether a passage is the item's answer passage: from its page, holding one of its literals."""
    return bool(source) and os.path.realpath(source) == os.path.realpath(item.source) and contains_answer(
        passage_text, item)
