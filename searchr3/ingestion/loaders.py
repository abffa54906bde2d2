"""File loaders: each turns one file into sections of text with a heading, the headings above
it, and a page or an anchor where the format has them.

Supported: ``.txt``, ``.md``, ``.rst``, ``.html``/``.htm``, ``.pdf`` (pypdf, read by
:mod:`.pdf`), ``.docx`` (python-docx). Anything unreadable raises :class:`LoadError` with a
one-line reason; what a parser reads past is counted (:func:`load_noting`), never printed.
"""

from __future__ import annotations

import copy
import logging
import re
import textwrap
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from searchr3.ingestion import pdf


class _ThreadNotes(logging.Handler):
    """Collects the parsers' log warnings (pypdf's "Ignoring wrong pointing object …") per thread,
    so that :func:`load_noting` can count them instead of letting them print into a progress bar."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.local = threading.local()

    def emit(self, record: logging.LogRecord) -> None:
        notes = getattr(self.local, "notes", None)
        if notes is not None:
            notes.append(record.getMessage().splitlines()[0] if record.getMessage() else record.levelname)


_NOTES = _ThreadNotes()
for _name in ("pypdf", "docx"):
    logging.getLogger(_name).addHandler(_NOTES)
    logging.getLogger(_name).propagate = False  # never printed: counted


class LoadError(Exception):
    """A file could not be turned into text (corrupt, binary, empty, ...)."""


@dataclass(frozen=True)
class Section:
    """A run of text under one heading (and, for PDFs, on one page); ``anchor``: the id a link
    can jump to (an HTML section's), where the file has one; ``path``: the headings above
    ``heading``, outermost first."""

    text: str
    heading: str | None = None
    page: int | None = None
    anchor: str | None = None
    path: tuple[str, ...] = ()


class Outline:
    """The headings above the current one: :meth:`enter` a heading of a level (smaller is outer)
    and get the titles of the open headings above it."""

    def __init__(self) -> None:
        self._open: list[tuple[int, str]] = []

    def enter(self, level: int, title: str) -> tuple[str, ...]:
        while self._open and self._open[-1][0] >= level:
            self._open.pop()
        above = tuple(t for _, t in self._open)
        self._open.append((level, title))
        return above

    def retitle(self, title: str) -> None:
        """Change the innermost open heading's title (one set on two lines)."""
        self._open[-1] = (self._open[-1][0], title)


def _read_text(path: Path) -> str:
    data = path.read_bytes()
    if b"\0" in data[:8192]:
        raise LoadError("binary content in a text file")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise LoadError("not valid UTF-8 text") from None
    # Mostly control characters means a binary file whatever its name.
    sample = text[:4096]
    if sample and sum(not (c.isprintable() or c in "\n\r\t") for c in sample) > 0.1 * len(sample):
        raise LoadError("binary content in a text file")
    return text


#: A fence line opening or closing a code block (```` ``` ```` or ``~~~``, three or more).
FENCE = re.compile(r"^\s{0,3}(```+|~~~+)")


HeadingAt = Callable[[list[str], int], "tuple[str, int, object] | None"]


def _split_by_headings(text: str, heading_at: HeadingAt) -> list[Section]:
    """Split lines into sections; ``heading_at(lines, i)`` returns ``(title, lines used, level)``,
    the level a number (Markdown's ``#`` count) or a style whose rank is its order of first use
    (reST's adornments). Inside a fenced code block (```` ``` ```` or ``~~~``) nothing is a heading:
    a ``# comment`` stays code."""
    lines = text.splitlines()
    sections: list[Section] = []
    heading, body, path = None, [], ()
    outline, styles = Outline(), {}
    fence = None
    i = 0
    while i < len(lines):
        mark = FENCE.match(lines[i])
        if mark and (fence is None or mark.group(1)[0] == fence):
            fence = None if fence else mark.group(1)[0]
        found = None if fence or mark else heading_at(lines, i)
        if found:
            if "\n".join(body).strip():
                sections.append(Section("\n".join(body).strip(), heading, path=path))
            title, used, style = found
            level = style if isinstance(style, int) else styles.setdefault(style, len(styles))
            heading, body, path = title, [], outline.enter(level, title)
            i += used
            continue
        body.append(lines[i])
        i += 1
    if "\n".join(body).strip():
        sections.append(Section("\n".join(body).strip(), heading, path=path))
    return sections


_MD_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")


def _md_heading(lines: list[str], i: int) -> tuple[str, int, int] | None:
    m = _MD_HEADING.match(lines[i])
    return (m.group(2), 1, len(m.group(1))) if m else None


_RST_ADORN = re.compile(r"^([=\-~^\"'`#*+:.])\1{2,}\s*$")


def _rst_heading(lines: list[str], i: int) -> tuple[str, int, tuple[str, bool]] | None:
    """A title and its style: the adornment character, and whether it is overlined too."""
    # over- and underlined:  ====\nTitle\n====
    if _RST_ADORN.match(lines[i]) and i + 2 < len(lines) and lines[i + 1].strip() and _RST_ADORN.match(lines[i + 2]):
        return lines[i + 1].strip(), 3, (lines[i].strip()[0], True)
    # underlined:  Title\n=====
    if (
        lines[i].strip()
        and i + 1 < len(lines)
        and _RST_ADORN.match(lines[i + 1])
        and len(lines[i + 1].strip()) >= len(lines[i].strip())
    ):
        return lines[i].strip(), 2, (lines[i + 1].strip()[0], False)
    return None


def load_txt(path: Path) -> list[Section]:
    return [Section(_read_text(path).strip())]


def load_markdown(path: Path) -> list[Section]:
    return _split_by_headings(_read_text(path), _md_heading)


def load_rst(path: Path) -> list[Section]:
    return _split_by_headings(_rst_literals(_read_text(path)), _rst_heading)


_RST_CODE = re.compile(r"^\s*\.\. (?:code-block|code|sourcecode)::\s*(\S*)\s*$")


def _rst_literals(text: str) -> str:
    """reST's literal blocks (after a paragraph ending in ``::``) and ``.. code-block::`` directives as
    fenced code blocks (dedented, the language kept), so they stay code; ``text::`` reads ``text:``."""
    lines, out, i = text.splitlines(), [], 0
    while i < len(lines):
        line = lines[i]
        directive = _RST_CODE.match(line)
        literal = not directive and line.rstrip().endswith("::") and not line.lstrip().startswith("..")
        if not (directive or literal):
            out.append(line)
            i += 1
            continue
        j = i + 1
        while j < len(lines) and (not lines[j].strip() or lines[j].lstrip().startswith(":")) and directive:
            j += 1  # the directive's blank line and options (":linenos:")
        while j < len(lines) and not lines[j].strip():
            j += 1
        indent = len(line) - len(line.lstrip())
        k = j
        while k < len(lines) and (not lines[k].strip() or len(lines[k]) - len(lines[k].lstrip()) > indent):
            k += 1
        block = textwrap.dedent("\n".join(lines[j:k])).strip("\n")
        if not block:
            out.append(line)
            i += 1
            continue
        if literal:
            head = line.rstrip()[:-2].rstrip()
            out += [head + ":" if head and not head.endswith(" ") and not line.rstrip().endswith(" ::") else head, ""]
        out += [f"```{directive.group(1) if directive else ''}", block, "```", ""]
        i = k
    return "\n".join(out)


_BLOCKS = ["p", "li", "pre", "dt", "dd", "td", "th", "blockquote", "figcaption", "caption", "table", "ul", "ol"]
_HEADINGS = ["h1", "h2", "h3", "h4", "h5", "h6"]
# Page furniture, not content: navigation bars, tables of contents, breadcrumbs, sidebars (by tag,
# or by a class, id or role that says so: DocBook's navheader/navfooter/toc, Sphinx's related/sidebar,
# Apache's toplang/bottomlang language bars and footer).
_FURNITURE_TAGS = ["script", "style", "nav", "header", "footer", "noscript", "template"]
_FURNITURE = re.compile(r"\b(nav|navbar|navigation|navheader|navfooter|toc|breadcrumbs?|sidebar|sphinxsidebar"
                        r"|related|headerlink|skip-?link|footer|toplang|bottomlang|language-?(bar|selector)"
                        r"|page-?header|menu|menubar)\b", re.IGNORECASE)
# ids that name a page's furniture whatever the site (Apache's manual: page-header, its menu, the "path" trail)
_FURNITURE_IDS = re.compile(r"^(path|trail|header|page-?header|masthead|topbar|menu)$", re.IGNORECASE)
_DOCX_CODE = re.compile(r"\b(code|source|preformatted|macro)\b", re.IGNORECASE)  # paragraph styles of code
TABLE_GROUP_CHARS = 600  # a long table is cut into groups of rows of about this size, each with its header


def _is_furniture(tag) -> bool:
    if tag.name in ("html", "body", "main", "article"):
        return False
    marks = " ".join([*(tag.get("class") or []), tag.get("id") or "", tag.get("role") or ""])
    return bool(marks.strip()) and bool(_FURNITURE.search(marks) or _FURNITURE_IDS.match(tag.get("id") or ""))


def _only_local_links(lst) -> bool:
    """A list whose every item is just a link within the same document (an in-page table of contents)."""
    items = lst.find_all("li")
    if not items:
        return False
    for li in items:
        links = li.find_all("a", href=True)
        words = re.sub(r"\s+", "", li.get_text(""))
        linked = re.sub(r"\s+", "", "".join(a.get_text("") for a in links))
        if not links or not all(a["href"].startswith("#") for a in links) or words != linked:
            return False
    return True


_NAV_RELS = {"next", "prev", "previous", "up", "contents", "index", "start", "home"}


def _is_link_bar(block) -> bool:
    """A block that is mostly links to the next, previous or parent page (texinfo's and similar headers)."""
    text = re.sub(r"\s+", "", block.get_text(""))
    linked = re.sub(r"\s+", "", "".join(a.get_text("") for a in block.find_all("a")))
    return bool(text) and len(linked) >= 0.5 * len(text)


def _cell(cell) -> str:
    return re.sub(r"\s+", " ", cell.get_text(" ", strip=True)).replace("|", "\\|")


def _table(table) -> list[str]:
    """An HTML table as Markdown rows (:func:`markdown_rows`)."""
    rows = []
    for tr in table.find_all("tr"):
        if tr.find_parent("table") is not table:
            continue  # a nested table's rows are in its cell's text
        cells = tr.find_all(["th", "td"], recursive=False)
        if cells and any(_cell(c) for c in cells):
            rows.append((all(c.name == "th" for c in cells), [_cell(c) for c in cells]))
    return markdown_rows([cells for _, cells in rows], header=bool(rows) and rows[0][0])


def markdown_rows(rows: list[list[str]], header: bool) -> list[str]:
    """Table rows as Markdown rows in groups of about :data:`TABLE_GROUP_CHARS` characters, each
    group a small table that repeats the header row (so every chunk of it says what its columns are)."""
    if not rows:
        return []
    line = lambda cells: "| " + " | ".join(cells) + " |"  # noqa: E731
    head = []
    if header and len(rows) > 1:
        head = [line(rows[0]), "|" + " --- |" * len(rows[0])]
        rows = rows[1:]
    groups, current = [], []
    for cells in rows:
        current.append(line(cells))
        if sum(len(x) for x in current) >= TABLE_GROUP_CHARS:
            groups.append(current)
            current = []
    if current:
        groups.append(current)
    return ["\n".join(head + group) for group in groups]


def _fenced(code: str) -> str:
    """A ``<pre>`` block's text as a fenced code block (a longer fence where the code holds one),
    so chunks and the page keep it code: its lines, indentation and ``# comments`` as written."""
    code = code.strip("\n")
    fence = "```"
    while fence in code:
        fence += "`"
    return f"{fence}\n{code}\n{fence}"


def _list(lst) -> str:
    """A list as lines: "- item", or "1. item" for an ordered one (nested lists inside their item)."""
    ordered = lst.name == "ol"
    items = [re.sub(r"\s+", " ", li.get_text(" ", strip=True)) for li in lst.find_all("li", recursive=False)]
    return "\n".join(f"{i}. {t}" if ordered else f"- {t}" for i, t in enumerate((t for t in items if t), 1))


def _block_texts(el) -> list[str]:
    """The text of one top-level block as it reads: code keeps its lines, tables their rows, lists their items."""
    if el.name == "pre":
        return [_fenced(el.get_text(""))]
    if (code := _code_only(el)) is not None:
        return [_fenced(code)]
    if el.name == "table":
        return _table(el)
    if el.name in ("ul", "ol"):
        return [_list(el)]
    if el.find("pre") is not None:  # an example inside a definition or a note: its lines stay lines
        return _with_code(el)
    return [re.sub(r"\s+", " ", el.get_text(" ", strip=True))]


def _code_only(el) -> str | None:
    """The lines of a block that holds nothing but one ``<code>`` (an example written as code with
    ``<br>`` between its lines, as Apache's manual does), else ``None``."""
    parts = [c for c in el.children if getattr(c, "name", None) or str(c).strip()]
    if el.name != "p" or len(parts) != 1 or getattr(parts[0], "name", None) != "code":
        return None
    code = copy.copy(parts[0])
    for br in code.find_all("br"):
        br.replace_with("\x00")
    # outside <pre>, the source's line breaks and indentation are only spaces; <br> breaks the line
    lines = [re.sub(r"\s+", " ", line).strip() for line in code.get_text("").split("\x00")]
    return "\n".join(line for line in lines if line)


def _with_code(el) -> list[str]:
    """The text of a block that holds code blocks: prose runs collapsed, each ``<pre>`` as written."""
    parts: list[str] = []
    prose: list[str] = []

    def flush() -> None:
        text = re.sub(r"\s+", " ", " ".join(prose)).strip()
        prose.clear()
        if text:
            parts.append(text)

    for child in el.children:
        name = getattr(child, "name", None)
        if name == "pre":
            flush()
            parts.append(_fenced(child.get_text("")))
        elif name and child.find("pre") is not None:
            flush()
            parts.extend(_with_code(child))
        else:
            prose.append(child.get_text(" ") if name else str(child))
    flush()
    return parts


def load_html(path: Path) -> list[Section]:
    import warnings

    from bs4 import BeautifulSoup, XMLParsedAsHTMLWarning

    with warnings.catch_warnings():  # XHTML (PostgreSQL's, DocBook's) reads well as HTML: no warning
        warnings.simplefilter("ignore", XMLParsedAsHTMLWarning)
        soup = BeautifulSoup(_read_text(path), "lxml")
    for tag in soup(_FURNITURE_TAGS):
        tag.decompose()
    for tag in [t for t in soup.find_all(True) if _is_furniture(t)]:
        if not tag.decomposed:
            tag.decompose()
    for lst in [t for t in soup.find_all(["ul", "ol"]) if not t.decomposed and _only_local_links(t)]:
        if not lst.decomposed:
            lst.decompose()
    for link in soup.find_all("a", rel=True):
        block = None if link.decomposed else link.find_parent(["p", "div", "td", "table"])
        if block is not None and set(link.get("rel") or []) & _NAV_RELS and not block.decomposed \
                and block.name not in ("body", "html") and _is_link_bar(block):
            block.decompose()
    root = soup.body or soup
    sections: list[Section] = []
    heading, paragraphs = (soup.title.get_text(" ", strip=True) if soup.title else None), []
    anchor, anchor_level = None, -1  # the id links open at, and the level of the heading it came from
    outline, path = Outline(), ()

    def flush():
        if paragraphs:
            sections.append(Section("\n\n".join(paragraphs), heading, anchor=anchor, path=path))

    for el in root.find_all(_HEADINGS + _BLOCKS):
        if el.find_parent(_BLOCKS):  # nested block: its text is in the parent's
            continue
        if el.name in _HEADINGS:
            text = re.sub(r"\s+", " ", el.get_text(" ", strip=True))
            if text.strip():
                flush()
                level, own = _HEADINGS.index(el.name), _anchor(el)
                if own is not None or level <= anchor_level:  # a sub-heading without an id: its section's
                    anchor, anchor_level = own, level
                heading, paragraphs = text.rstrip("¶ "), []
                path = outline.enter(level, heading)
            continue
        paragraphs.extend(t for t in _block_texts(el) if t.strip())
    flush()
    if not sections:  # no block markup: fall back to all visible text
        text = root.get_text("\n", strip=True)
        if text:
            sections.append(Section(text, heading))
    return sections


def _anchor(heading) -> str | None:
    """The id a link to a heading's section jumps to: the heading's own, an anchor inside it
    (``<a id>``/``<a name>``), or the id of the element it opens (``<section id>``, a DocBook
    ``<div class="sect2" id>``); ``None`` when it has none (it then links to the section it is in)."""
    if heading.get("id"):
        return heading["id"]
    inner = heading.find("a", attrs={"id": True}) or heading.find("a", attrs={"name": True})
    if inner is not None:
        return inner.get("id") or inner.get("name")
    around = heading.find_parent(attrs={"id": True})
    if around is None or around.name in ("body", "html") or around.find(_HEADINGS) is not heading:
        return None  # not this heading's own section (a page container): the section it sits in holds
    return around["id"]


def load_pdf(path: Path) -> list[Section]:
    """A PDF's pages as sections under the headings found by type size (:mod:`.pdf`): code set in
    a monospaced face stays fenced code, running heads and feet are dropped; a section never spans
    two pages, so a link opens the page."""
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(str(path), strict=False)
        if reader.is_encrypted:
            raise LoadError("encrypted PDF")
        pages = [pdf.page_lines(page) for page in reader.pages]
        layouts = [page.extract_text(extraction_mode="layout") for page in reader.pages]
        try:
            labels = list(reader.page_labels)
        except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, IndexError):
            labels = [str(n) for n in range(1, len(pages) + 1)]
    except LoadError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError, AttributeError, IndexError) as exc:
        raise LoadError(f"corrupt PDF ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})") from None
    return _pdf_sections(pages, labels, layouts)


def _pdf_sections(pages: list[list[pdf.Line]], labels: list[str], layouts: list[str]) -> list[Section]:
    body = pdf.body_size(pages)
    running = pdf.running_lines(pages, labels)
    sizes = sorted({line.heading_size for lines in pages for line in lines if pdf.is_heading(line, body)},
                   reverse=True)
    sections: list[Section] = []
    outline, heading, path = Outline(), None, ()
    for number, (lines, drop, layout) in enumerate(zip(pages, running, layouts), start=1):
        parts: list[str] = []
        title_size = None  # the size of the heading just read, while no text has followed it
        for block in pdf.page_blocks([line for i, line in enumerate(lines) if i not in drop], body, layout):
            if not isinstance(block, pdf.Line):
                if isinstance(block, pdf.Table):
                    parts.extend(markdown_rows(block.rows, block.header))
                else:
                    parts.append(_fenced(block.text) if isinstance(block, pdf.Code) else block)
                title_size = None
                continue
            title = re.sub(r"\s+", " ", block.text).strip()
            if title_size == block.heading_size and not parts:
                heading = f"{heading} {title}"  # a title set on two lines
                outline.retitle(heading)
                continue
            if parts:
                sections.append(Section("\n\n".join(parts), heading, number, path=path))
                parts = []
            heading, title_size = title, block.heading_size
            path = outline.enter(sizes.index(title_size), title)
        if parts:
            sections.append(Section("\n\n".join(parts), heading, number, path=path))
    return sections


def load_docx(path: Path) -> list[Section]:
    import zipfile

    from docx import Document
    from docx.opc.exceptions import PackageNotFoundError

    try:
        doc = Document(str(path))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise LoadError(f"corrupt DOCX ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})") from None
    from docx.table import Table

    sections: list[Section] = []
    heading, paragraphs = None, []
    outline, path = Outline(), ()
    code: list[str] = []  # consecutive code-styled paragraphs: one block

    def end_code() -> None:
        if code:
            paragraphs.append(_fenced("\n".join(code)))
            code.clear()

    for block in doc.iter_inner_content():
        if isinstance(block, Table):
            end_code()
            rows = [[re.sub(r"\s+", " ", cell.text).strip().replace("|", "\\|") for cell in row.cells]
                    for row in block.rows]
            paragraphs.extend(markdown_rows([r for r in rows if any(r)], header=True))
            continue
        text = block.text.strip()
        style = (block.style.name if block.style is not None else "") or ""
        if _DOCX_CODE.search(style):
            code.append(block.text.rstrip())
            continue
        end_code()
        if not text:
            continue
        if style.startswith("Heading") or style == "Title":
            if paragraphs:
                sections.append(Section("\n\n".join(paragraphs), heading, path=path))
            level = int(style.split()[-1]) if style.split()[-1].isdigit() else 0
            heading, paragraphs, path = text, [], outline.enter(level, text)
        elif style.startswith("List"):  # "List Bullet", "List Number", …: one item a line
            numbered = "Number" in style
            last = paragraphs[-1].rsplit("\n", 1)[-1] if paragraphs else ""
            going = re.match(r"(\d+)\. ", last) if numbered else last.startswith("- ")
            item = f"{int(going.group(1)) + 1 if going else 1}. {text}" if numbered else f"- {text}"
            if going:
                paragraphs[-1] += "\n" + item
            else:
                paragraphs.append(item)
        else:
            paragraphs.append(text)
    end_code()
    if paragraphs:
        sections.append(Section("\n\n".join(paragraphs), heading, path=path))
    return sections


LOADERS: dict[str, Callable[[Path], list[Section]]] = {
    ".txt": load_txt,
    ".md": load_markdown,
    ".markdown": load_markdown,
    ".rst": load_rst,
    ".html": load_html,
    ".htm": load_html,
    ".pdf": load_pdf,
    ".docx": load_docx,
}


def is_supported(path: Path) -> bool:
    return path.suffix.lower() in LOADERS


def load(path: Path) -> list[Section]:
    """Sections of ``path``; raises :class:`LoadError` if unreadable or without text."""
    return load_noting(path)[0]


def load_noting(path: Path) -> tuple[list[Section], list[str]]:
    """Sections of ``path`` and the warnings its parser raised while reading past problems (one
    line each); raises :class:`LoadError` if unreadable or without text."""
    loader = LOADERS.get(path.suffix.lower())
    if loader is None:
        raise LoadError(f"unsupported file type {path.suffix!r}")
    _NOTES.local.notes = notes = []
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            sections = loader(path)
    except OSError as exc:
        raise LoadError(f"cannot read file ({exc.strerror or exc})") from None
    finally:
        _NOTES.local.notes = None
    notes += [str(w.message).splitlines()[0] for w in caught if str(w.message)]
    sections = [s for s in sections if s.text.strip()]
    if not sections:
        raise LoadError("no text found")
    return sections, notes
