"""Perl's POD as plain text: the question sections of a FAQ page (``=head2 How do I …?``)."""

from __future__ import annotations

import re

_ENTITIES = {"lt": "<", "gt": ">", "verbar": "|", "sol": "/", "quot": '"', "amp": "&"}
_DOUBLE = re.compile(r"([A-Z])<<+\s+(.*?)\s+>>+", re.S)
_SINGLE = re.compile(r"([A-Z])<([^<>]*)>")


def _code(kind: str, body: str) -> str:
    if kind == "E":
        return _ENTITIES.get(body, chr(int(body, 0)) if body[:1].isdigit() else "")
    if kind in ("X", "Z"):
        return ""
    if kind == "L":
        text, bar, target = body.partition("|")
        if bar:
            return text
        page, _, section = body.partition("/")
        section = section.strip('"')
        return f"{section} in {page}" if page and section else (section or page)
    return body


def pod_text(text: str) -> str:
    """``text`` with POD formatting codes (``C<…>``, ``C<< … >>``, ``L<…>``, ``E<gt>``…) resolved."""
    previous = None
    while previous != text:  # innermost codes first, until nothing is left to resolve
        previous = text
        text = _DOUBLE.sub(lambda m: _code(m.group(1), m.group(2)), text)
        text = _SINGLE.sub(lambda m: _code(m.group(1), m.group(2)), text)
    return text


def _paragraphs(lines: list[str]) -> list[str]:
    """Blank-line separated blocks: prose joined into one line, verbatim (indented) code kept."""
    blocks, current = [], []
    for line in lines + [""]:
        if line.strip():
            current.append(line)
            continue
        if current:
            if current[0][:1] in (" ", "\t"):
                blocks.append("\n".join(current))
            else:
                blocks.append(" ".join(pod_text(" ".join(current)).split()))
            current = []
    return blocks


def pod_questions(source: str, min_chars: int = 40) -> list[tuple[str, str]]:
    """``(question, answer)`` for each ``=head2`` heading that ends in ``?``: the heading's text
    and the paragraphs up to the next heading (``=item`` text kept, other commands dropped)."""
    out: list[tuple[str, str]] = []
    question: str | None = None
    body: list[str] = []

    def flush() -> None:
        if question is not None:
            answer = "\n\n".join(b for b in _paragraphs(body) if b.strip())
            if len(answer) >= min_chars:
                out.append((question, answer))

    for line in source.splitlines():
        if line.startswith("=head"):
            flush()
            level, _, title = line.partition(" ")
            title = " ".join(pod_text(title).split())
            question = title if level == "=head2" and title.endswith("?") else None
            body = []
        elif line.startswith("=item"):
            body.extend(["", line.partition(" ")[2], ""])
        elif line.startswith("="):
            body.append("")
        elif question is not None:
            body.append(line)
    flush()
    return out
