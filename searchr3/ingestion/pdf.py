"""PDF pages read as their authors laid them out: headings by type size, code by typeface.

pypdf hands each run of text to a visitor with its font, size and position. From those, lines
are rebuilt and read: a line set wholly in a monospaced face is code (consecutive ones one fenced
block, indentation and blank lines recovered from the positions); a short line set clearly larger
than the body text (or bold and larger) is a heading, its level the rank of its size; the running
head and foot of a page (a line at its top or bottom that holds the page's number, or repeats on
several pages) is dropped, and so are the entries of a table of contents (dot leaders to a page
number); three or more lines whose cells start at the same columns of pypdf's layout text are a
table; prose lines are joined into paragraphs (a line broken after a hyphen rejoined, ligatures
spelled out), a bulleted or numbered line keeps its own line.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

MONOSPACED = re.compile(r"mono|nimbusmon|courier|consol|menlo|cmtt|typewriter|inconsolata|fixed|code|lmtt|\btt",
                        re.IGNORECASE)
BOLD = re.compile(r"bold|cmbx|bx\d|black|heavy|semibold|demi", re.IGNORECASE)
_BULLET = re.compile(r"^\s*([•◦▪‣·\-–*]|\(?\d{1,2}[.)]|\(?[a-z][.)])\s+")
_HYPHENATED = re.compile(r"[a-z]-$")
_LIGATURES = str.maketrans({"ﬀ": "ff", "ﬁ": "fi", "ﬂ": "fl", "ﬃ": "ffi", "ﬄ": "ffl", "ﬅ": "st", "ﬆ": "st"})
HEADING_RATIO = 1.15  # a heading's size over the body's (1.05 when set in bold)
MAX_HEADING_CHARS = 120
_LEADERS = re.compile(r"(?:\.\s?){5,}\s*[\divxlc]{0,6}\s*$", re.IGNORECASE)  # a contents entry's dots to its page
COLUMN_SLACK = 2  # characters of the layout text: cells that start this close are in one column
MIN_ROWS = 3
MAX_CELL = 60  # characters: a longer "cell" is a line of prose with a gap in it


@dataclass
class Line:
    """One line of a page: its text, where it starts, and what it is set in."""

    text: str = ""
    x: float | None = None
    y: float | None = None
    mono: int = 0  # characters set in a monospaced face
    bold: int = 0
    chars: int = 0
    sizes: Counter = field(default_factory=Counter)
    code: bool | None = None  # set by mark_code
    cells: list[str] | None = None  # set by mark_tables
    lead: tuple[float, bool] | None = None  # the size of its first characters, and whether they are bold

    def add(self, text: str, font: str, size: float, x: float, y: float) -> None:
        if self.x is None and text.strip():
            self.x, self.y = x, y
        text = text.translate(_LIGATURES)  # "conﬁguration" is searched as "configuration"
        self.text += text
        visible = len(text.replace(" ", ""))
        self.chars += visible
        self.mono += visible if MONOSPACED.search(font) else 0
        self.bold += visible if BOLD.search(font) else 0
        if self.lead is None and visible:
            self.lead = (round(size * 2) / 2, bool(BOLD.search(font)))
        self.sizes[round(size * 2) / 2] += visible

    @property
    def is_code(self) -> bool:
        """Set in a monospaced face (and, alone, set apart from the prose: see :func:`mark_code`)."""
        if self.code is not None:
            return self.code
        return self.chars > 0 and self.mono >= 0.9 * self.chars

    @property
    def heading_size(self) -> float:
        """The size a heading is told by: its first characters' when larger (a section number in
        the heading's size before words set smaller), else the size most of it is set in."""
        return max(self.main_size, self.lead[0] if self.lead else 0.0)

    @property
    def main_size(self) -> float:
        return self.sizes.most_common(1)[0][0] if self.sizes else 0.0


def page_lines(page) -> list[Line]:
    """The non-empty lines of a pypdf page, in reading order, with font, size and position."""
    lines = [Line()]

    def visit(text, cm, tm, font, size):
        if not text:
            return
        name = str((font or {}).get("/BaseFont", "")) if hasattr(font, "get") else ""
        scale = abs(tm[3] * cm[3]) or abs(tm[0] * cm[0]) or 1.0
        x = tm[4] * cm[0] + tm[5] * cm[2] + cm[4]
        y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
        for k, piece in enumerate(text.split("\n")):
            if k:
                lines.append(Line())
            if piece:
                lines[-1].add(piece, name, float(size) * scale, x, y)

    page.extract_text(visitor_text=visit)
    return [line for line in lines if line.text.strip()]


def _end_number(line: Line) -> int | None:
    words = line.text.split()
    for word in (words[0], words[-1]) if words else ():
        if word.isdigit() and len(word) <= 4:
            return int(word)
    return None


def running_lines(pages: list[list[Line]], labels: list[str]) -> list[set[int]]:
    """Per page, the indexes of its running head and foot: a short first or last line that holds
    the page's printed number as a word at either end (its label, or a number that runs in step
    with the page on many pages), or that repeats (digits aside) as a first or last line on at
    least three pages."""
    def shape(line: Line) -> str:
        return re.sub(r"\d+", "#", line.text.strip())

    def ends(lines: list[Line]) -> list[int]:
        return [i for i in {0, len(lines) - 1} if lines and len(lines[i].text) <= MAX_HEADING_CHARS]

    shapes = Counter(shape(p[i]) for p in pages for i in ends(p))
    steps = Counter(n - index for index, p in enumerate(pages) for i in ends(p)
                    if (n := _end_number(p[i])) is not None)
    in_step = {step for step, count in steps.items() if count >= max(3, 0.2 * len(pages))}
    drop = []
    for index, (lines, label) in enumerate(zip(pages, labels)):
        found = set()
        for i in ends(lines):
            words, number = lines[i].text.split(), _end_number(lines[i])
            if (label and label in (words[0], words[-1])) or shapes[shape(lines[i])] >= 3 \
                    or (number is not None and number - index in in_step):
                found.add(i)
        drop.append(found)
    return drop


def mark_code(lines: list[Line]) -> None:
    """A lone monospaced line flush with the prose around it at the usual spacing, or one that
    ends a sentence (not after a colon), is a wrapped piece of a sentence (a long identifier), not
    a code block: mark it prose."""
    for i, line in enumerate(lines):
        if not line.is_code or line.x is None:
            continue
        around = [lines[j] for j in (i - 1, i + 1) if 0 <= j < len(lines)]
        if not around or any(n.is_code for n in around):
            continue
        size = line.main_size or 10
        flush = all(n.x is not None and abs(n.x - line.x) < 0.3 * size for n in around)
        close = all(n.y is not None and line.y is not None and abs(n.y - line.y) < 1.6 * size for n in around)
        ends_sentence = line.text.rstrip().endswith((".", ",", ";")) and not (
            i and lines[i - 1].text.rstrip().endswith(":"))
        if (flush and close) or ends_sentence:
            line.code = False


def layout_cells(layout: str) -> dict[str, list[tuple[int, str]]]:
    """The cells of each line of a page's layout text (pypdf's ``extraction_mode="layout"``, which
    places text by its real widths): runs apart by three spaces or more, each with its column;
    keyed by their text without spaces, for every run of neighbouring cells (a page set in two
    columns holds two lines on one line of layout text)."""
    out: dict[str, list[tuple[int, str]]] = {}
    for row in layout.splitlines():
        cells = [(m.start(), m.group(0)) for m in re.finditer(r"\S+(?: {1,2}\S+)*", row)]
        for start in range(len(cells)):
            for end in range(start + 1, len(cells) + 1):
                out.setdefault(re.sub(r"\s+", "", "".join(t for _, t in cells[start:end])), cells[start:end])
    return out


def _aligned(a: list[tuple[int, str]], b: list[tuple[int, str]]) -> bool:
    """Two lines' cells that read as rows of one table: several cells each, words in two of them,
    none as long as a line of prose, the same left edge, the later cells of one all where the
    other's start (one may lack a cell)."""
    for row in (a, b):
        worded = sum(bool(re.search(r"\w\w", text)) for _, text in row)
        if len(row) < 2 or worded < 2 or max(len(text) for _, text in row) > MAX_CELL:
            return False
    if abs(a[0][0] - b[0][0]) > COLUMN_SLACK:
        return False
    xa, xb = [x for x, _ in a[1:]], [x for x, _ in b[1:]]
    fewer, more = sorted((xa, xb), key=len)
    return all(any(abs(x - m) <= COLUMN_SLACK for m in more) for x in fewer)


def mark_tables(lines: list[Line], layout: str) -> None:
    """Rows of a table: three or more consecutive prose lines whose cells in the page's layout
    text (:func:`layout_cells`) start at the same columns. A row's cells go column by column."""
    known = layout_cells(layout)
    found = [[] if line.is_code else known.get(re.sub(r"\s+", "", line.text), []) for line in lines]
    i = 0
    while i < len(lines):
        j = i + 1
        while j < len(lines) and _aligned(found[j - 1], found[j]):
            j += 1
        if j - i >= MIN_ROWS:
            columns: list[int] = []
            for x in sorted(x for row in found[i:j] for x, _ in row):
                if not columns or x - columns[-1] > COLUMN_SLACK:
                    columns.append(x)
            for line, row in zip(lines[i:j], found[i:j]):
                line.cells = [""] * len(columns)
                for x, text in row:
                    k = max(n for n, c in enumerate(columns) if c <= x + COLUMN_SLACK)
                    line.cells[k] = f"{line.cells[k]} {text}".strip()
        i = j


def body_size(pages: list[list[Line]]) -> float:
    """The size most characters are set in."""
    sizes = Counter()
    for lines in pages:
        for line in lines:
            sizes.update(line.sizes)
    return sizes.most_common(1)[0][0] if sizes else 0.0


def is_heading(line: Line, body: float) -> bool:
    text = line.text.strip()
    if not body or line.is_code or len(text) > MAX_HEADING_CHARS or text.endswith((".", ",", ";")):
        return False
    ratio = line.heading_size / body
    bold = line.bold >= 0.8 * line.chars or bool(line.lead and line.lead[1] and line.lead[0] > body)
    return ratio >= HEADING_RATIO or (ratio >= 1.05 and bold)


def _gaps(lines: list[Line]) -> list[float]:
    """The vertical steps down from each line to the next (a step up: another column, left out)."""
    return [a.y - b.y for a, b in zip(lines, lines[1:]) if a.y is not None and b.y is not None and a.y > b.y]


def code_block(lines: list[Line]) -> str:
    """Consecutive code lines as written: indentation from their left edges (in character widths),
    a blank line where the gap between two lines is well over the block's line pitch."""
    size = lines[0].main_size or 10.0
    width = size * 0.55  # a monospaced character is 0.5 to 0.6 of the size
    left = min((line.x for line in lines if line.x is not None), default=0.0)
    gaps = _gaps(lines)
    pitch = min(gaps) if gaps else None
    out = []
    for i, line in enumerate(lines):
        if i and pitch and line.y is not None and lines[i - 1].y is not None \
                and lines[i - 1].y - line.y > 1.6 * pitch:
            out.append("")
        indent = round((line.x - left) / width) if line.x is not None else 0
        out.append(" " * max(indent, 0) + line.text.strip())
    return "\n".join(out)


def paragraphs(lines: list[Line]) -> list[str]:
    """Prose lines joined into paragraphs: a new one after a gap over the usual line pitch or at
    an indented first line; a bulleted or numbered line starts its own line (the lines under it
    continue it); a word hyphenated across lines is rejoined."""
    gaps = _gaps(lines)
    pitch = sorted(gaps)[len(gaps) // 2] if gaps else None
    lefts = Counter(round(line.x) for line in lines if line.x is not None)
    left = lefts.most_common(1)[0][0] if lefts else None
    out: list[str] = []
    for i, line in enumerate(lines):
        text = line.text.strip()
        prev = lines[i - 1] if i else None
        gap = bool(prev is not None and pitch and prev.y is not None and line.y is not None
                   and prev.y - line.y > 1.15 * pitch)
        in_item = bool(out) and _BULLET.match(out[-1].rsplit("\n", 1)[-1]) is not None
        indented = left is not None and line.x is not None and line.x - left >= 0.8 * (line.main_size or 10)
        if not out or gap or (indented and not in_item):
            out.append(text)
        elif _BULLET.match(text):
            out[-1] += "\n" + text
        elif _HYPHENATED.search(out[-1]) and text[:1].islower():
            out[-1] = out[-1][:-1] + text
        else:
            out[-1] += " " + text
    return out


@dataclass(frozen=True)
class Table:
    """Rows of cells; ``header``: the first row is set in bold (it names the columns)."""

    rows: list[list[str]]
    header: bool


@dataclass(frozen=True)
class Code:
    """A block of code as written (:func:`code_block`): its lines, indentation and blank lines."""

    text: str


def page_blocks(lines: list[Line], body: float, layout: str = "") -> Iterator[Line | str | Table | Code]:
    """A page's lines (running head and foot dropped) in reading order as headings (their
    :class:`Line`), tables (:class:`Table`, found in ``layout``: :func:`mark_tables`), code
    (:class:`Code`) and prose paragraphs (text)."""
    lines = [line for line in lines if not _LEADERS.search(line.text)]  # a table of contents is not indexed
    mark_code(lines)
    mark_tables(lines, layout)

    def kind(line: Line) -> str:
        return "code" if line.is_code else "table" if line.cells is not None else "prose"

    run: list[Line] = []
    for line in [*lines, None]:
        heading = line is not None and line.cells is None and is_heading(line, body)
        if run and (line is None or heading or kind(run[0]) != kind(line)):
            if kind(run[0]) == "table":
                yield Table([row.cells for row in run], run[0].bold >= 0.8 * run[0].chars)
            elif kind(run[0]) == "code":
                yield Code(code_block(run))
            else:
                yield from paragraphs(run)
            run = []
        if heading:
            yield line
        elif line is not None:
            run.append(line)
