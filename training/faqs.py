"""Real questions → answers from the FAQs other tools ship in Debian packages (source ``faqs``).

Each FAQ is one or a few HTML pages whose question headings are followed by their answers:
the R FAQ (``r-doc-html``), the zsh FAQ (``zsh-doc``), fetchmail's, xterm's, SQLite's
(``sqlite3-doc``), Git's (``git-doc``), FFmpeg's, mypy's, Network UPS Tools' (``nut-doc``), nano's,
Valgrind's, FontForge's, WeeChat's, Sylpheed's, bogofilter's, Docutils', w3m's, Dask's, MPlayer's
(``mplayer-doc``), MHonArc's, flex's, mod_ssl's (``apache2-doc``), FFTW's (``libfftw3-doc``),
Partition Image's (``partimage-doc``), Asymptote's, Gammu's and Open vSwitch's (``FAQ_PAGES``). They
are made by different tools (texinfo, yodl, asciidoc, DocBook, Sphinx, by hand), so a page is read as
one stream of text cut at its headings (``h1``–``h6``, a paragraph or table cell that is one bold
phrase, a ``<dt>`` that asks a question, the question row of a DocBook Q&A table, a paragraph that
starts "Q: "): a heading that asks a question of at least ``VAGUE_QUESTIONS`` words (one the markup
marks asks without "?": "Audio goes out of sync playing an AVI file."), without its numbers ("3.1:",
"G1.", "(2)", "1.1 Q01", "Question 4.2."), label ("Q:", "Frage:") or a trailing aside in brackets, is
the query; the text up to the next heading, without an "A: " label, is its answer (tables of contents
and navigation left out). Source ``faqs-translated``: the questions of the FAQs that ship translations
(``TRANSLATED_FAQS``: WeeChat, Sylpheed, bogofilter and mod_ssl in German or French; MPlayer in eight
languages) → the English answer, found under the same anchor or, where the anchors are made up per
language, by content (``training.faq_align``): cross-lingual pairs of real questions. None of these
packages is a dev set's or reserved for independent evaluation.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

from rich.progress import track

from searchr3.corpora.manpages import clean, first_words
from searchr3.errors import SearchR3Error

from . import sphinx_html as html
from .faq_align import align
from .reserved import allowed, reserved_files

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
    "mplayer-doc": ("mplayer/HTML/en/faq.html",),  # the English one of its ten languages
    "mhonarc": ("mhonarc/faq/*.html",),
    "flex-doc": ("flex-doc/html/*_003f.html",),  # a page per question, named after it ("_003f" is texinfo's "?")
    "apache2-doc": ("apache2-doc/manual/en/ssl/ssl_faq.html",),  # mod_ssl's FAQ; the manual has no other
    "libfftw3-doc": ("libfftw3-dev/fftw-faq.html/section*.html",),
    "partimage-doc": ("partimage-doc/html/faq-*.html",),
    "asymptote-doc": ("asymptote/faq/section*.html",),
    "gammu-doc": ("gammu/html/faq/*.html",),
    "openvswitch-doc": ("openvswitch-doc/html/faq/*.html",),  # "Q: …" paragraphs, each answer "A: …"
}
# package → language → its translated pages (globs under /usr/share/doc), the English ones being FAQ_PAGES's:
# each translated question is paired with the English answer under the same anchor, or matched by content where
# the anchors are made up (cross-lingual pairs)
TRANSLATED_FAQS = {
    "weechat-doc": {"de": "weechat-doc/html/weechat_faq.de.html", "fr": "weechat-doc/html/weechat_faq.fr.html"},
    "sylpheed-doc": {"de": "sylpheed-doc/FAQ/de/sylpheed-faq-[0-9].html"},  # its French one is numbered otherwise
    "bogofilter-common": {"fr": "bogofilter-common/bogofilter-faq-fr.html"},
    "apache2-doc": {"fr": "apache2-doc/manual/fr/ssl/ssl_faq.html"},  # its other languages' pages are the English one
    # DocBook makes up its anchors per language: matched by content (training.faq_align); the Chinese FAQ leaves
    # its questions in English
    "mplayer-doc": {lang: f"mplayer/HTML/{lang}/faq.html" for lang in ("de", "fr", "es", "it", "pl", "cs", "hu",
                                                                        "ru")},
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
# "3.1:", "2.1", "G1.", "(2)", "1.1 Q01", "Frage 01:", "Question 4.2.", "Q:"
_NUMBER = re.compile(r"^((\(\d+\)|(Frage |Question )?[A-Z]?\d+(\.\d+)*[.:)]?|Q:)\s+)+")
_ANSWER_LABEL = re.compile(r"^A:\s+")
_GENERATED_ID = re.compile(r"^idm?\d+$")  # DocBook's made-up anchors ("idm5705"): another in every language
_QANDA_ROWS = frozenset({"question", "answer"})  # DocBook Q&A tables: a label cell ("Q:", "Frage", "4.1.") first
_ASIDE = re.compile(r"\s*\([^()]*\)$")  # "Why do my csh aliases not work? (Plus other alias pitfalls.)"


def faq_pages(base: Path = DOC_ROOT, reserved: frozenset[str] | None = None) -> dict[str, list[Path]]:
    """The installed packages of ``FAQ_PAGES`` and their pages (none a reserved package installed)."""
    reserved = reserved_files() if reserved is None else reserved
    found = {pkg: allowed(sorted(p for pattern in patterns for p in base.glob(pattern)), reserved)
             for pkg, patterns in FAQ_PAGES.items()}
    found = {pkg: pages for pkg, pages in found.items() if pages}
    if not found:
        raise SearchR3Error(f"no FAQ is installed (apt-get install {' '.join(FAQ_PAGES)})")
    return found


def _label(element) -> bool:
    row = element.getparent()
    return (element.tag == "td" and row is not None and row.tag == "tr" and bool(_QANDA_ROWS & set(html.classes(row)))
            and row.index(element) == 0)


def _chrome(element) -> bool:
    if element.tag == "dl" and (box := element.getparent()) is not None and "qandaset" in html.classes(box):
        return True  # the list of a DocBook Q&A set's questions, each a link to the real one below
    return bool(_CHROME & set(html.classes(element))) or _label(element)


def heading_text(element) -> str:
    """A heading's words without its number, permalink or trailing aside in brackets."""
    skip = [e for e in html.descendants(element) if _chrome(e)]
    # a Q&A row holds blocks (a question, then the message it quotes): never glued
    title = clean(html.text(element, separator=" " if _question_row(element) else "", skip=skip))
    title = re.sub(r"\s+([?.,;:!])", r"\1", _NUMBER.sub("", title))
    bare = _ASIDE.sub("", title)
    return bare if bare.endswith("?") else title


def _one_bold_phrase(element) -> bool:
    return (element.tag in ("p", "td") and len(element) == 1 and element[0].tag in ("b", "strong")
            and not (element.text or "").strip() and not (element[0].tail or "").strip())


def _question_row(element) -> bool:
    return element.tag == "tr" and "question" in html.classes(element)


def _asked(element) -> bool:
    """The markup marks a question: a DocBook Q&A row, or a paragraph that starts "Q: " (Open vSwitch)."""
    return _question_row(element) or (element.tag == "p" and (element.text or "").startswith("Q: "))


def _is_heading(element) -> bool:
    if element.tag in _HEADINGS or _asked(element) or _one_bold_phrase(element):
        return True
    return element.tag == "dt" and heading_text(element).endswith("?")


class Section(NamedTuple):
    """One heading of a FAQ page and the text up to the next."""

    heading: str
    anchor: str | None  # the heading's id or name (its own, an inner link's, or the anchor just before it)
    text: str
    asked: bool = False  # the markup says the heading is a question ("Q: ", a DocBook Q&A row), "?" or not

    def asks(self) -> bool:
        """The heading is a question (it ends in "?" or the markup says so) of at least ``VAGUE_QUESTIONS`` words."""
        return (self.asked or self.heading.endswith("?")) and len(self.heading.split()) >= VAGUE_QUESTIONS

    def pair(self) -> tuple[str, str] | None:
        """``(question, answer cut to 160 words)`` when the heading asks a question (``asks``) and the answer
        has at least ``MIN_ANSWER_WORDS``."""
        if self.asks() and len(self.text.split()) >= MIN_ANSWER_WORDS:
            return self.heading, first_words(_ANSWER_LABEL.sub("", self.text))
        return None


def _anchor(element) -> str | None:
    key = next((k for e in element.iter() if (k := e.get("id") or e.get("name"))), None)
    if key is None and (before := element.getprevious()) is not None and before.tag == "a":
        key = before.get("name") or before.get("id")
    return None if key is None or _GENERATED_ID.match(key) else key


def sections(root) -> Iterator[Section]:
    """The page's sections, in order."""
    heading, anchor, asked, parts = None, None, False, []
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
                yield Section(heading, anchor, clean("".join(parts)), asked)
            heading, anchor, asked, parts = heading_text(node), _anchor(node), _asked(node), []
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
        yield Section(heading, anchor, clean("".join(parts)), asked)


def _page_sections(page: Path) -> list[Section]:
    root = html.parse(page, fallback="latin-1")
    return [] if root is None else list(sections(root))


def _relative(page: Path, base: Path) -> Path:
    return page.relative_to(base) if page.is_relative_to(base) else Path(page.name)


def faq_pairs(pages: dict[str, list[Path]], base: Path = DOC_ROOT) -> Iterator[tuple[str, str, str]]:
    """``(question, answer, source)``; the source names the package and page
    (``faqs:git-doc:git-doc/gitfaq.html#question``). Answers are cut to their first 160 words."""
    for pkg, files in pages.items():
        for page in track(files, description=pkg, transient=True):
            for pair in filter(None, (s.pair() for s in _page_sections(page))):
                yield *pair, f"faqs:{pkg}:{_relative(page, base)}#question"


def translated_faq_pages(base: Path = DOC_ROOT, reserved: frozenset[str] | None = None,
                         ) -> dict[tuple[str, str], tuple[list[Path], list[Path]]]:
    """``(package, language)`` → (the translated pages, the English pages) of ``TRANSLATED_FAQS``
    installed (none a reserved package installed)."""
    reserved = reserved_files() if reserved is None else reserved
    found = {}
    for pkg, languages in TRANSLATED_FAQS.items():
        english = allowed(sorted(base.glob(FAQ_PAGES[pkg][0])), reserved)
        for lang, pattern in languages.items():
            if english and (translated := allowed(sorted(base.glob(pattern)), reserved)):
                found[pkg, lang] = translated, english
    if not found:
        raise SearchR3Error(f"no translated FAQ is installed (apt-get install {' '.join(TRANSLATED_FAQS)})")
    return found


def _matched(english: list[Section], translated: list[Section]) -> Iterator[tuple[Section, Section]]:
    """``(English section, translated section)``: by anchor; sections without one (DocBook's made-up anchors are
    none) by content (``training.faq_align``), among those that hold text."""
    by_anchor = {s.anchor: s for s in english if s.anchor}
    yield from ((by_anchor[s.anchor], s) for s in translated if s.anchor in by_anchor)
    english, translated = ([s for s in side if s.anchor is None and s.text] for side in (english, translated))
    for i, j in align([f"{s.heading} {s.text}" for s in english], [f"{s.heading} {s.text}" for s in translated]):
        yield english[i], translated[j]


def translated_faq_pairs(pages: dict[tuple[str, str], tuple[list[Path], list[Path]]],
                         base: Path = DOC_ROOT) -> Iterator[tuple[str, str, str]]:
    """``(translated question, the English answer, source)`` (``faqs-de:weechat-doc:…#question``): each
    translated question is matched to an English section (``_matched``); a question left in English, or
    whose English section has no answer, is skipped."""
    english_sections = {}  # the English pages of a package, read once for all its languages
    for (pkg, lang), (translated, english) in pages.items():
        if pkg not in english_sections:
            english_sections[pkg] = [s for page in english for s in _page_sections(page)]
        for page in translated:
            for original, s in _matched(english_sections[pkg], _page_sections(page)):
                if (pair := original.pair()) and s.asks() and s.heading != pair[0]:
                    yield s.heading, pair[1], f"faqs-{lang}:{pkg}:{_relative(page, base)}#question"
