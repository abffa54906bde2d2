"""Real questions → answers from the FAQs other tools ship in Debian packages (source ``faqs``).

Each FAQ is one or a few HTML pages whose question headings are followed by their answers:
the R FAQ (``r-doc-html``), the zsh FAQ (``zsh-doc``), fetchmail's, xterm's, SQLite's
(``sqlite3-doc``), Git's (``git-doc``), FFmpeg's, mypy's, Network UPS Tools' (``nut-doc``), nano's,
Valgrind's, FontForge's, WeeChat's, Sylpheed's, bogofilter's, Docutils', w3m's and Dask's (``FAQ_PAGES``).
They are made by different tools (texinfo, yodl, asciidoc, DocBook, Sphinx, by hand), so a page
is read as one stream of text cut at its headings (``h1``–``h6``, a paragraph or table cell that
is one bold phrase, a ``<dt>`` that asks a question): a heading that asks a question of at least
``VAGUE_QUESTIONS`` words, without its numbers ("3.1:", "G1.", "(2)", "1.1 Q01") or a trailing aside in
brackets, is the query; the text up to the next heading is its answer (tables of contents and
navigation left out). None of these packages
is a dev set's or reserved for independent evaluation.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from rich.progress import track

from searchr3.errors import SearchR3Error
from searchr3.manpages import clean, first_words

from . import sphinx_html as html

DOC_ROOT = Path("/usr/share/doc")
# Debian package → its FAQ pages (globs under /usr/share/doc)
FAQ_PAGES = {
    "r-doc-html": ("r-doc-html/manual/R-FAQ.html",),
    "zsh-doc": ("zsh-common/html/FAQ0*.html",),  # FAQ.html is only the contents
    "fetchmail": ("fetchmail/fetchmail-FAQ.html",),
    "xterm": ("xterm/xterm.faq.html",),
    "sqlite3-doc": ("sqlite3/faq.html",),
    "git-doc": ("git-doc/gitfaq.html",),
    "ffmpeg-doc": ("ffmpeg/manual/faq.html",),
    "mypy-doc": ("mypy/html/faq.html",),
    "nut-doc": ("nut-doc/html/FAQ.html",),
    "nano": ("nano/faq.html",),
    "valgrind": ("valgrind/html/faq.html",),
    "fontforge-doc": ("fontforge/faq.html",),
    "weechat-doc": ("weechat-doc/html/weechat_faq.en.html",),  # the English one of its eight languages
    "sylpheed-doc": ("sylpheed-doc/FAQ/en/sylpheed-faq-[0-9].html",),
    "bogofilter-common": ("bogofilter-common/bogofilter-faq.html",),
    "docutils-doc": ("docutils-doc/FAQ.html",),
    "w3m": ("w3m/FAQ.html",),
    "python-dask-doc": ("python-dask-doc/html/faq.html",),
}
VAGUE_QUESTIONS = 4  # a question of fewer words ("What is it?", "Is mypy free?") is no query
MIN_ANSWER_WORDS = 8
_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
# navigation bars, tables of contents, permalinks and "TOC" links: not part of a heading or an answer
_CHROME = frozenset({"header", "nav-panel", "navigation", "navheader", "navfooter", "toc", "contents", "headerlink",
                     "copiable-anchor", "pull-right"})
# elements that start a new line: their text is never glued to the text around them
_BLOCKS = frozenset({"p", "div", "br", "dl", "dt", "dd", "ul", "ol", "li", "pre", "blockquote", "table", "tr",
                     "td", "th", "section"})
_NUMBER = re.compile(r"^((\(\d+\)|[A-Z]?\d+(\.\d+)*[.:)]?)\s+)+")  # "3.1:", "2.1", "G1.", "(2)", "1.1 Q01"
_ASIDE = re.compile(r"\s*\([^()]*\)$")  # "Why do my csh aliases not work? (Plus other alias pitfalls.)"


def faq_pages(base: Path = DOC_ROOT) -> dict[str, list[Path]]:
    """The installed packages of ``FAQ_PAGES`` and their pages."""
    found = {pkg: sorted(p for pattern in patterns for p in base.glob(pattern)) for pkg, patterns in FAQ_PAGES.items()}
    found = {pkg: pages for pkg, pages in found.items() if pages}
    if not found:
        raise SearchR3Error(f"no FAQ is installed (apt-get install {' '.join(FAQ_PAGES)})")
    return found


def _chrome(element) -> bool:
    return bool(_CHROME & set(html.classes(element)))


def heading_text(element) -> str:
    """A heading's words without its number, permalink or trailing aside in brackets."""
    title = clean(html.text(element, skip=[e for e in html.descendants(element) if _chrome(e)]))
    title = re.sub(r"\s+([?.,;:!])", r"\1", _NUMBER.sub("", title))
    bare = _ASIDE.sub("", title)
    return bare if bare.endswith("?") else title


def _one_bold_phrase(element) -> bool:
    return (element.tag in ("p", "td") and len(element) == 1 and element[0].tag in ("b", "strong")
            and not (element.text or "").strip() and not (element[0].tail or "").strip())


def _is_heading(element) -> bool:
    if element.tag in _HEADINGS or _one_bold_phrase(element):
        return True
    return element.tag == "dt" and heading_text(element).endswith("?")


def sections(root) -> Iterator[tuple[str, str]]:
    """``(heading, text up to the next heading)`` of one page, in order."""
    heading, parts = None, []
    stack = [(root, True)]
    while stack:
        node, opening = stack.pop()
        if not opening:
            if node.tag in _BLOCKS:
                parts.append(" ")
            if node.tail:
                parts.append(node.tail)
            continue
        if node.tag in ("script", "style", "template") or _chrome(node):
            continue
        if node is not root and _is_heading(node):
            if heading is not None:
                yield heading, clean("".join(parts))
            heading, parts = heading_text(node), []
            continue
        if node.tag in _BLOCKS:
            parts.append(" ")
        if node.text:
            parts.append(node.text)
        for child in reversed(node):
            stack.append((child, False))
            if isinstance(child.tag, str):  # an element, not a comment
                stack.append((child, True))
    if heading is not None:
        yield heading, clean("".join(parts))


def faq_pairs(pages: dict[str, list[Path]], base: Path = DOC_ROOT) -> Iterator[tuple[str, str, str]]:
    """``(question, answer, source)``; the source names the package and page
    (``faqs:git-doc:git-doc/gitfaq.html#question``). Answers are cut to their first 160 words."""
    for pkg, files in pages.items():
        for page in track(files, description=pkg, transient=True):
            root = html.parse(page)
            if root is None:
                continue
            rel = page.relative_to(base) if page.is_relative_to(base) else Path(page.name)
            for question, answer in sections(root):
                if (question.endswith("?") and len(question.split()) >= VAGUE_QUESTIONS
                        and len(answer.split()) >= MIN_ANSWER_WORDS):
                    yield question, first_words(answer), f"faqs:{pkg}:{rel}#question"
