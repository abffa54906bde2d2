"""File loaders: each turns one file into sections of text with a heading and a page.

Supported: ``.txt``, ``.md``, ``.rst``, ``.html``/``.htm``, ``.pdf`` (pypdf), ``.docx``
(python-docx). Anything unreadable raises :class:`LoadError` with a one-line reason.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

# pypdf logs recoverable problems itself; we report one line per file instead.
logging.getLogger("pypdf").setLevel(logging.ERROR)


class LoadError(Exception):
    """A file could not be turned into text (corrupt, binary, empty, ...)."""


@dataclass(frozen=True)
class Section:
    """A run of text under one heading (and, for PDFs, on one page); ``anchor``: the id a link
    can jump to (an HTML section's), where the file has one."""

    text: str
    heading: str | None = None
    page: int | None = None
    anchor: str | None = None


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


def _split_by_headings(text: str, heading_at: Callable[[list[str], int], tuple[str, int] | None]) -> list[Section]:
    """Split lines into sections; ``heading_at(lines, i)`` returns ``(title, lines used)``."""
    lines = text.splitlines()
    sections: list[Section] = []
    heading, body = None, []
    i = 0
    while i < len(lines):
        found = heading_at(lines, i)
        if found:
            if "\n".join(body).strip():
                sections.append(Section("\n".join(body).strip(), heading))
            heading, body = found[0], []
            i += found[1]
            continue
        body.append(lines[i])
        i += 1
    if "\n".join(body).strip():
        sections.append(Section("\n".join(body).strip(), heading))
    return sections


_MD_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")


def _md_heading(lines: list[str], i: int) -> tuple[str, int] | None:
    m = _MD_HEADING.match(lines[i])
    return (m.group(2), 1) if m else None


_RST_ADORN = re.compile(r"^([=\-~^\"'`#*+:.])\1{2,}\s*$")


def _rst_heading(lines: list[str], i: int) -> tuple[str, int] | None:
    # over- and underlined:  ====\nTitle\n====
    if _RST_ADORN.match(lines[i]) and i + 2 < len(lines) and lines[i + 1].strip() and _RST_ADORN.match(lines[i + 2]):
        return lines[i + 1].strip(), 3
    # underlined:  Title\n=====
    if (
        lines[i].strip()
        and i + 1 < len(lines)
        and _RST_ADORN.match(lines[i + 1])
        and len(lines[i + 1].strip()) >= len(lines[i].strip())
    ):
        return lines[i].strip(), 2
    return None


def load_txt(path: Path) -> list[Section]:
    return [Section(_read_text(path).strip())]


def load_markdown(path: Path) -> list[Section]:
    return _split_by_headings(_read_text(path), _md_heading)


def load_rst(path: Path) -> list[Section]:
    return _split_by_headings(_read_text(path), _rst_heading)


_BLOCKS = ["p", "li", "pre", "dt", "dd", "td", "th", "blockquote", "figcaption", "caption"]
_HEADINGS = ["h1", "h2", "h3", "h4", "h5", "h6"]


def load_html(path: Path) -> list[Section]:
    import warnings

    from bs4 import BeautifulSoup, XMLParsedAsHTMLWarning

    with warnings.catch_warnings():  # XHTML (PostgreSQL's, DocBook's) reads well as HTML: no warning
        warnings.simplefilter("ignore", XMLParsedAsHTMLWarning)
        soup = BeautifulSoup(_read_text(path), "lxml")
    for tag in soup(["script", "style", "nav", "header", "footer", "noscript", "template"]):
        tag.decompose()
    root = soup.body or soup
    sections: list[Section] = []
    heading, paragraphs = (soup.title.get_text(" ", strip=True) if soup.title else None), []
    anchor = None

    def flush():
        if paragraphs:
            sections.append(Section("\n\n".join(paragraphs), heading, anchor=anchor))

    for el in root.find_all(_HEADINGS + _BLOCKS):
        if el.find_parent(_BLOCKS):  # nested block: its text is in the parent's
            continue
        text = el.get_text("\n" if el.name == "pre" else " ", strip=el.name != "pre")
        text = text.strip("\n") if el.name == "pre" else re.sub(r"\s+", " ", text)
        if not text.strip():
            continue
        if el.name in _HEADINGS:
            flush()
            heading, paragraphs, anchor = text.rstrip("¶ "), [], _anchor(el)
        else:
            paragraphs.append(text)
    flush()
    if not sections:  # no block markup: fall back to all visible text
        text = root.get_text("\n", strip=True)
        if text:
            sections.append(Section(text, heading))
    return sections


def _anchor(heading) -> str | None:
    """The id a link to a heading's section jumps to: the heading's own, an anchor inside it
    (``<a id>``/``<a name>``), or the id of the element around it (``<section id>``, a DocBook
    ``<div class="sect2" id>``)."""
    if heading.get("id"):
        return heading["id"]
    inner = heading.find("a", attrs={"id": True}) or heading.find("a", attrs={"name": True})
    if inner is not None:
        return inner.get("id") or inner.get("name")
    around = heading.find_parent(attrs={"id": True})
    return around["id"] if around is not None and around.name not in ("body", "html") else None


def load_pdf(path: Path) -> list[Section]:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(str(path), strict=False)
        if reader.is_encrypted:
            raise LoadError("encrypted PDF")
        sections = []
        for number, page in enumerate(reader.pages, start=1):
            text = (page.extract_text() or "").strip()
            if text:
                sections.append(Section(text, None, number))
    except LoadError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError, AttributeError, IndexError) as exc:
        raise LoadError(f"corrupt PDF ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})") from None
    return sections


def load_docx(path: Path) -> list[Section]:
    import zipfile

    from docx import Document
    from docx.opc.exceptions import PackageNotFoundError

    try:
        doc = Document(str(path))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise LoadError(f"corrupt DOCX ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})") from None
    sections: list[Section] = []
    heading, paragraphs = None, []
    for para in doc.paragraphs:
        text = para.text.strip()
        if not text:
            continue
        style = (para.style.name if para.style is not None else "") or ""
        if style.startswith("Heading") or style == "Title":
            if paragraphs:
                sections.append(Section("\n\n".join(paragraphs), heading))
            heading, paragraphs = text, []
        else:
            paragraphs.append(text)
    if paragraphs:
        sections.append(Section("\n\n".join(paragraphs), heading))
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
    loader = LOADERS.get(path.suffix.lower())
    if loader is None:
        raise LoadError(f"unsupported file type {path.suffix!r}")
    try:
        sections = loader(path)
    except OSError as exc:
        raise LoadError(f"cannot read file ({exc.strerror or exc})") from None
    sections = [s for s in sections if s.text.strip()]
    if not sections:
        raise LoadError("no text found")
    return sections
