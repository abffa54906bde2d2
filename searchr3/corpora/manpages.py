"""Man pages as text: the NAME line and DESCRIPTION of a roff page, in any language, and the
rule that holds whole pages out of training for the cross-lingual dev set.

English pages live in ``/usr/share/man/manN``, translations in ``/usr/share/man/LANG/manN``
(Debian's ``manpages-de``, ``manpages-fr``) under the same file name, so a page and its
translation pair up by ``manN/NAME``.
"""

from __future__ import annotations

import gzip
import re
import zlib
from dataclasses import dataclass
from pathlib import Path

MAN_ROOT = Path("/usr/share/man")
SECTIONS = ("man1", "man2", "man3", "man5", "man7", "man8")
MAX_WORDS = 160

_FONT = re.compile(r"\\f(\[[^\]]*\]|\(..|.)")
_UNICODE = re.compile(r"\\\[u([0-9A-Fa-f]{4,5})\]")
_NAMED = re.compile(r"\\(\(..|\[[^\]]*\])")
_STRING = re.compile(r"\\\*(\(..|\[[^\]]*\]|.)")
_STRINGS = {"(Aq": "'", "[Aq]": "'", "(lq": "“", "[lq]": "“", "(rq": "”", "[rq]": "”", "(dq": '"'}
_ARGUMENTS = re.compile(r"\\+\$[*@0-9]")
_ESCAPES = {
    r"\-": "-", r"\(aq": "'", r"\(dq": '"', r"\(em": "—", r"\(en": "–", r"\e": "\\", r"\&": "", r"\ ": " ",
    r"\(bu": "•", r"\(:a": "ä", r"\(:o": "ö", r"\(:u": "ü", r"\(:A": "Ä", r"\(:O": "Ö", r"\(:U": "Ü",
    r"\(ss": "ß", r"\('e": "é", r"\(`e": "è", r"\(^e": "ê", r"\(`a": "à", r"\(,c": "ç", r"\(Fo": "«",
    r"\(Fc": "»", r"\(lq": "“", r"\(rq": "”", r"\(Bq": "„", r"\~": " ", r"\:": "", r"\%": "", r"\/": "", r"\,": "",
}


@dataclass(frozen=True)
class ManPage:
    """One page: ``key`` (``man1/ls.1.gz``), its NAME line and the start of its DESCRIPTION."""

    key: str
    name: str
    description: str

    @property
    def summary(self) -> str:
        """The NAME line after its dash: what the page is about, without the command's name."""
        return self.name.split(" - ", 1)[1].strip() if " - " in self.name else self.name


def clean(text: str) -> str:
    """Whitespace collapsed, pilcrows dropped."""
    return re.sub(r"\s+", " ", text).replace("¶", "").strip()


def first_words(text: str, limit: int = MAX_WORDS) -> str:
    """The first ``limit`` words of ``text``."""
    return " ".join(text.split()[:limit])


def roff_text(line: str) -> str:
    """Text of one roff line: font escapes dropped, common escapes resolved, macros unwrapped."""
    if "\\" in line:  # every escape starts with a backslash
        line = _unescaped(line)
    if line.startswith((".", "'")):
        macro, _, rest = line.partition(" ")
        if macro in (".B", ".I", ".SM", ".SB"):
            return rest.replace('"', "")
        if macro in (".BR", ".BI", ".IB", ".IR", ".RB", ".RI"):
            return "".join(re.findall(r'"[^"]*"|\S+', rest)).replace('"', "")
        return ""
    return line


def _unescaped(line: str) -> str:
    line = _FONT.sub("", line)
    for a, b in _ESCAPES.items():
        line = line.replace(a, b)
    line = _UNICODE.sub(lambda m: chr(int(m.group(1), 16)), line)
    line = _STRING.sub(lambda m: _STRINGS.get(m.group(1), ""), line)
    line = _ARGUMENTS.sub("", line)
    return _NAMED.sub("", line)


def _sections(raw: str) -> dict[str, list[str]]:
    """The roff lines of each section (``.SH`` title, upper-cased), in page order."""
    sections: dict[str, list[str]] = {}
    current = None
    for line in raw.splitlines():
        if line.startswith(".SH"):
            current = line[3:].strip().strip('"').upper()
            sections.setdefault(current, [])
        elif current is not None:
            sections[current].append(line)
    return sections


def _section_text(lines: list[str]) -> str:
    """A section's text, a line break where a paragraph macro starts one (read only for the
    sections used: most of a page is never converted)."""
    parts = []
    for line in lines:
        if line.startswith((".PP", ".P", ".LP", ".TP", ".IP")):
            parts.append("\n")
        text = roff_text(line)
        if text:
            parts.append(text)
    return " ".join(parts)


def read_page(path: Path, key: str | None = None) -> ManPage | None:
    """The NAME line and DESCRIPTION of one (gzipped) page in any language, or None when it
    cannot be read, is a ``.so`` link, or has no ``name - summary`` line or description of
    at least 12 words. Section titles are matched by position (NAME first, DESCRIPTION the
    section after SYNOPSIS) so translated titles (BEZEICHNUNG, BESCHREIBUNG) work too."""
    try:
        raw = (
            gzip.open(path, "rt", encoding="utf-8", errors="replace").read()
            if path.suffix == ".gz"
            else path.read_text(errors="replace")
        )
    except (OSError, EOFError, zlib.error):
        return None
    sections = _sections(raw)
    titles = list(sections)
    if not titles:
        return None
    name_title = "NAME" if "NAME" in sections else titles[0]
    if "DESCRIPTION" in sections:
        desc_title = "DESCRIPTION"
    else:
        after = titles.index(name_title) + 2  # NAME, SYNOPSIS, then the description
        desc_title = titles[after] if after < len(titles) else None
    name = clean(_section_text(sections.get(name_title, [])))
    desc = first_words(clean(_section_text(sections.get(desc_title, [])))) if desc_title else ""
    if " - " not in name or len(desc.split()) < 12:
        return None
    return ManPage(key or f"{path.parent.name}/{path.name}", name, desc)


def page_keys(language: str | None = None, root: Path = MAN_ROOT) -> list[tuple[str, Path]]:
    """``(key, path)`` of every page file (links skipped) in the English or a translated tree."""
    base = root / language if language else root
    out = []
    for section in SECTIONS:
        for path in sorted((base / section).glob("*")):
            if path.is_file() and not path.is_symlink():
                out.append((f"{section}/{path.name}", path))
    return out


def held_out(key: str) -> bool:
    """Whether a page (``man1/ls.1.gz``) belongs to the cross-lingual dev set: one page in five,
    by a stable hash of its key. Training builders skip these pages in every language."""
    return zlib.crc32(key.split(".", 1)[0].encode()) % 5 == 0


def from_perl(key: str) -> bool:
    """Perl's own pages (``perl-doc``: ``man1/perl*``, ``man3/*.3perl``), perlfaq among them:
    the perlfaq dev set's package, which no training builder reads."""
    section, _, name = key.partition("/")
    return (section == "man1" and name.startswith("perl")) or ".3perl" in name


def training_page(key: str) -> bool:
    """Whether training may read a page: not held out for manxl and not one of Perl's."""
    return not (held_out(key) or from_perl(key))
