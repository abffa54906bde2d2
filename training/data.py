"""Build stage-1 training pairs from local text: ``python -m training.data OUT.jsonl``.

Sources (Debian packages, no downloads):
- ``pydoc``: the Python documentation (``python3-doc``) except the FAQ, which is the
  evaluation set: API signature → its description (``<dt>``/``<dd>``), and section
  heading → section text (library reference, tutorial, HOWTOs, language reference).
- ``man``: man pages (``manpages``, ``manpages-dev``): NAME line → DESCRIPTION.

Each line is ``{"query", "positive", "negatives": [...], "source"}``; negatives are BM25
neighbours of the query among all positives, never the positive itself.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import re
import sys
from collections.abc import Iterator
from pathlib import Path

from rich.progress import track

from searchr3.cli import print_error
from searchr3.errors import SearchR3Error
from searchr3.pydocs import python_doc_root

PYDOC_FOLDERS = ("library", "tutorial", "howto", "reference", "using", "extending")
MAN_SECTIONS = ("man1", "man2", "man3", "man5", "man7", "man8")
MAX_WORDS = 160


def _clean(text: str) -> str:
    return re.sub(r"\s+", " ", text).replace("¶", "").strip()


def _words(text: str, limit: int = MAX_WORDS) -> str:
    words = text.split()
    return " ".join(words[:limit])


def _body(element, min_words: int) -> str | None:
    """The element's own paragraphs as one text of at most MAX_WORDS words, if long enough."""
    paras = [_clean(p.get_text(" ", strip=True)) for p in element.find_all("p", recursive=False)]
    body = _words(" ".join(p for p in paras if p))
    return body if len(body.split()) >= min_words else None


def pydoc_pairs(root: Path) -> Iterator[tuple[str, str, str]]:
    """``(query, positive, source)`` from the Python docs, FAQ excluded."""
    from bs4 import BeautifulSoup

    pages = [p for folder in PYDOC_FOLDERS for p in sorted((root / folder).rglob("*.html"))]
    for page in track(pages, description="python docs", transient=True):
        if "faq" in page.relative_to(root).parts:
            continue
        soup = BeautifulSoup(page.read_text(encoding="utf-8", errors="replace"), "lxml")
        rel = str(page.relative_to(root))
        for dl in soup.select("dl.py"):
            dt, dd = dl.find("dt", recursive=False), dl.find("dd", recursive=False)
            if dt is None or dd is None:
                continue
            sig, body = _clean(dt.get_text(" ", strip=True)), _body(dd, 8)
            if len(sig) >= 4 and body:
                yield sig, body, f"pydoc:{rel}#sig"
        for section in soup.find_all("section"):
            heading = section.find(["h1", "h2", "h3", "h4"], recursive=False)
            if heading is None:
                continue
            title, body = _clean(heading.get_text(" ", strip=True)), _body(section, 15)
            if len(title) >= 4 and body:
                yield title, body, f"pydoc:{rel}#section"


_ROFF_FONT = re.compile(r"\\f(\[[^\]]*\]|\(..|.)")
_ROFF_ESCAPES = [
    (r"\-", "-"),
    (r"\(aq", "'"),
    (r"\(dq", '"'),
    (r"\(em", "—"),
    (r"\(en", "–"),
    (r"\e", "\\"),
    (r"\&", ""),
    (r"\ ", " "),
    (r"\(bu", "•"),
]


def _roff_text(line: str) -> str:
    """Text of one roff line: font escapes dropped, common escapes resolved, macros unwrapped."""
    line = _ROFF_FONT.sub("", line)
    for a, b in _ROFF_ESCAPES:
        line = line.replace(a, b)
    if line.startswith((".", "'")):
        macro, _, rest = line.partition(" ")
        if macro in (".B", ".I", ".SM", ".SB"):
            return rest.replace('"', "")
        if macro in (".BR", ".BI", ".IB", ".IR", ".RB", ".RI"):
            return "".join(re.findall(r'"[^"]*"|\S+', rest)).replace('"', "")
        return ""
    return line


def man_page(path: Path) -> tuple[str, str] | None:
    """``(NAME line, DESCRIPTION start)`` of one (gzipped) man page, or None."""
    try:
        raw = (
            gzip.open(path, "rt", encoding="utf-8", errors="replace").read()
            if path.suffix == ".gz"
            else path.read_text(errors="replace")
        )
    except (OSError, EOFError):
        return None
    sections: dict[str, list[str]] = {}
    current = None
    for line in raw.splitlines():
        if line.startswith(".SH"):
            current = line[3:].strip().strip('"').upper()
            sections.setdefault(current, [])
        elif current is not None:
            if line.startswith((".PP", ".P", ".LP", ".TP", ".IP")):
                sections[current].append("\n")
            text = _roff_text(line)
            if text:
                sections[current].append(text)
    name = _clean(" ".join(sections.get("NAME", [])))
    desc = _words(_clean(" ".join(sections.get("DESCRIPTION", []))))
    if " - " not in name or len(desc.split()) < 12:
        return None
    return name, desc


def man_pairs() -> Iterator[tuple[str, str, str]]:
    pages = [p for s in MAN_SECTIONS for p in sorted(Path("/usr/share/man", s).glob("*"))]
    for page in track(pages, description="man pages", transient=True):
        if page.is_symlink():
            continue
        found = man_page(page)
        if found:
            yield found[0], found[1], f"man:{page.parent.name}/{page.name}"


def mine_hard_negatives(queries: list[str], positives: list[str], k: int) -> list[list[int]]:
    """For each query, the indices of the ``k`` best BM25 matches among positives that are
    not its own positive (nor an identical text)."""
    import bm25s

    retriever = bm25s.BM25()
    retriever.index(bm25s.tokenize(positives, stopwords="en", show_progress=False), show_progress=False)
    docs, _ = retriever.retrieve(
        bm25s.tokenize(queries, stopwords="en", show_progress=False), k=min(k + 4, len(positives)), show_progress=False
    )
    out = []
    for i, row in enumerate(docs):
        out.append([int(j) for j in row if int(j) != i and positives[int(j)] != positives[i]][:k])
    return out


def build(sources: list[str], max_pairs: int | None, negatives: int, seed: int) -> list[dict]:
    raw: list[tuple[str, str, str]] = []
    if "pydoc" in sources:
        raw.extend(pydoc_pairs(python_doc_root()))
    if "man" in sources:
        raw.extend(man_pairs())
    seen_q, seen_p, pairs = set(), set(), []
    for q, p, src in raw:  # one pair per query text and per positive text
        if q.lower() in seen_q or p in seen_p:
            continue
        seen_q.add(q.lower())
        seen_p.add(p)
        pairs.append((q, p, src))
    if not pairs:
        raise SearchR3Error("no training pairs found (apt-get install python3-doc manpages manpages-dev)")
    random.Random(seed).shuffle(pairs)
    pairs = pairs[:max_pairs] if max_pairs else pairs
    hard = (
        mine_hard_negatives([q for q, _, _ in pairs], [p for _, p, _ in pairs], negatives)
        if negatives
        else [[] for _ in pairs]
    )
    return [
        {"query": q, "positive": p, "negatives": [pairs[j][1] for j in h], "source": src}
        for (q, p, src), h in zip(pairs, hard)
    ]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m training.data", description="Build stage-1 training pairs from local documentation."
    )
    ap.add_argument("out", type=Path)
    ap.add_argument("--sources", default="pydoc,man", help="comma-separated: pydoc, man")
    ap.add_argument("--max-pairs", type=int, default=None)
    ap.add_argument("--negatives", type=int, default=3, help="hard negatives per pair")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    try:
        rows = build(
            [s.strip() for s in args.sources.split(",") if s.strip()], args.max_pairs, args.negatives, args.seed
        )
    except SearchR3Error as exc:
        print_error(exc)
        return 2
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    by_source: dict[str, int] = {}
    for row in rows:
        kind = row["source"].split(":")[0] + (":" + row["source"].rsplit("#", 1)[1] if "#" in row["source"] else "")
        by_source[kind] = by_source.get(kind, 0) + 1
    print(f"{len(rows)} pairs -> {args.out} ({', '.join(f'{k}: {v}' for k, v in sorted(by_source.items()))})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
