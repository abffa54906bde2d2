"""A retrieved passage as HTML that shows it as its author wrote it: text escaped (never read as
Markdown, so a ``# comment`` stays a comment), fenced code as a monospace block, Markdown table rows
(what ingestion makes of a table) as a table, and the best-matching sentences marked. The HTML has
no newline in it, so the Markdown around it (the passages panel) never reads inside."""

from __future__ import annotations

import html
import re

from searchr3.ingestion.loaders import FENCE

_TABLE_LINE = re.compile(r"^\|.*\|\s*$")
_SEPARATOR = re.compile(r"^\|(\s*:?-{3,}:?\s*\|)+\s*$")
_CELL_SPLIT = re.compile(r"(?<!\\)\|")


def blocks(text: str) -> list[tuple[str, int, int]]:
    """``(kind, start, end)`` covering ``text`` in order: ``code`` (a fenced block, fences
    included; an unclosed one runs to the end), ``table`` (consecutive ``| … |`` lines) or ``text``."""
    out: list[tuple[str, int, int]] = []
    start, kind, fence, at = 0, "text", None, 0
    for line in text.splitlines(keepends=True):
        body = line.rstrip("\n")
        new = kind
        if fence is not None:
            if body.strip() == fence:
                fence = None
                out.append(("code", start, at + len(line)))
                start, kind = at + len(line), "text"
            at += len(line)
            continue
        if opened := FENCE.match(body):
            fence, new = opened.group(1), "code"
        elif _TABLE_LINE.match(body):
            new = "table"
        elif kind == "table":
            new = "text"
        if new != kind:
            if at > start:
                out.append((kind, start, at))
            start, kind = at, new
        at += len(line)
    if len(text) > start:
        out.append((kind, start, len(text)))
    return out


def window(text: str, spans: list[tuple[int, int]], limit: int) -> tuple[int, int]:
    """The part of ``text`` shown: about ``limit`` characters from the start, or around the first
    span when that lies further in."""
    begin = max(0, spans[0][0] - limit // 4) if spans and spans[0][1] > limit else 0
    return begin, max(begin + limit, spans[0][1] if spans else 0)


def marked_range(text: str, spans: list[tuple[int, int]], begin: int, end: int) -> str:
    """``text[begin:end]`` escaped, with the parts inside ``spans`` in ``<mark>``."""
    out, at = [], begin
    for a, b in spans:
        if b <= begin or a >= end:
            continue
        a, b = max(a, begin), min(b, end)
        out += [html.escape(text[at:a]), "<mark>", html.escape(text[a:b]), "</mark>"]
        at = b
    out.append(html.escape(text[at:end]))
    return "".join(out)


def _table(lines: list[str]) -> str:
    """Markdown table rows as an HTML table (the first row a header when a separator follows it)."""
    head = len(lines) > 1 and bool(_SEPARATOR.match(lines[1]))
    rows = [line for line in lines if not _SEPARATOR.match(line)]
    out = []
    for i, line in enumerate(rows):
        tag = "th" if head and i == 0 else "td"
        cells = [html.escape(c.strip().replace("\\|", "|")) for c in _CELL_SPLIT.split(line.strip())[1:-1]]
        out.append("<tr>" + "".join(f"<{tag}>{c}</{tag}>" for c in cells) + "</tr>")
    return "<table>" + "".join(out) + "</table>"


def _code(text: str, spans, a: int, b: int, begin: int, end: int) -> str:
    """The fenced block ``text[a:b]`` without its fence lines, as ``<pre><code>``."""
    first = text.find("\n", a, b)
    inner_a = b if first < 0 else first + 1
    last = text.rfind("\n", inner_a, b - 1) + 1 if b - 1 > inner_a else inner_a
    inner_b = last if last > inner_a and FENCE.match(text[last:b]) else b
    lo, hi = max(inner_a, begin), min(inner_b, end)
    code = marked_range(text, spans, lo, hi).strip("\n").replace("\n", "<br>") if hi > lo else ""
    return f'<pre class="passage-code"><code>{code}</code></pre>'


def _table_part(text: str, a: int, b: int, begin: int, end: int) -> str:
    """The table ``text[a:b]``: its header (when shown) and the rows that start inside the window."""
    rows, at = [], a
    for line in text[a:b].splitlines(keepends=True):
        if line.strip():
            rows.append((line.strip(), at))
        at += len(line)
    header = rows[:2] if len(rows) > 1 and _SEPARATOR.match(rows[1][0]) else []
    body = [row for row in rows[len(header):] if begin <= row[1] < end]
    return _table([line for line, _ in header + body]) if body or (header and begin <= a < end) else ""


def passage_html(text: str, spans: list[tuple[int, int]], limit: int = 1200) -> str:
    """``text`` as HTML (see the module), cut to about ``limit`` characters around the first of
    ``spans`` (the sentences to mark), with no newline left in it."""
    begin, end = window(text, spans, limit)
    parts = []
    for kind, a, b in blocks(text):
        lo, hi = max(a, begin), min(b, end)
        if lo >= hi:
            continue
        if kind == "code":
            parts.append(_code(text, spans, a, b, begin, end))
        elif kind == "table":
            parts.append(_table_part(text, a, b, begin, end))
        else:
            piece = marked_range(text, spans, lo, hi)
            if kind == "text" and (a, b) != (0, len(text)):
                piece = piece.strip("\n")  # beside a block: the block keeps them apart
            parts.append(piece.replace("\n", "<br>"))
    return ("… " if begin else "") + "".join(parts) + (" …" if end < len(text) else "")
