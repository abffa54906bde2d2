"""Build evaluation sets: ``python -m searchr3.eval.build pyfaq OUT``.

``pyfaq``: every question of the Python FAQ (Debian's ``python3-doc``) with its answer;
the corpus is all answers (no titles, so the question text is not in the corpus).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from ..cli import print_error
from ..errors import SearchR3Error
from ..pydocs import python_doc_root
from .beir import Dataset, write_beir

_BLOCKS = ("p", "pre", "ul", "ol", "dl", "blockquote", "table")


def faq_pages(root: Path | None = None) -> list[Path]:
    """The FAQ HTML pages (the index page excluded)."""
    root = root or python_doc_root()
    return sorted(p for p in (root / "faq").glob("*.html") if p.name != "index.html")


def faq_pairs(page: Path) -> list[tuple[str, str, str]]:
    """``(section id, question, answer)`` for each question section of one FAQ page."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(page.read_text(encoding="utf-8"), "lxml")
    pairs = []
    for section in soup.find_all("section"):
        heading = section.find(["h1", "h2", "h3", "h4"], recursive=False)
        if heading is None:
            continue
        question = heading.get_text(" ", strip=True).rstrip("¶").strip()
        if not question.endswith("?"):
            continue
        parts = []
        for child in section.find_all(recursive=False):
            if child.name == "section":
                continue
            blocks = [child] if child.name in _BLOCKS else child.find_all(_BLOCKS)
            for block in blocks:
                sep = "\n" if block.name == "pre" else " "
                text = block.get_text(sep, strip=block.name != "pre")
                parts.append(text.strip("\n") if block.name == "pre" else re.sub(r"\s+", " ", text))
        answer = "\n\n".join(p for p in parts if p.strip())
        if len(answer) >= 40:
            pairs.append((section.get("id", ""), question, answer))
    return pairs


def build_pyfaq(root: Path | None = None) -> Dataset:
    corpus: dict[str, tuple[str, str]] = {}
    queries: dict[str, str] = {}
    qrels: dict[str, dict[str, int]] = {}
    for page in faq_pages(root):
        for sid, question, answer in faq_pairs(page):
            key = f"{page.stem}/{sid}"
            if f"d:{key}" in corpus:
                continue
            corpus[f"d:{key}"] = ("", answer)
            queries[f"q:{key}"] = question
            qrels[f"q:{key}"] = {f"d:{key}": 1}
    if not queries:
        raise SearchR3Error("no FAQ questions found")
    return Dataset(corpus, queries, qrels)


BUILDERS = {"pyfaq": build_pyfaq}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m searchr3.eval.build", description="Build an evaluation set in BEIR layout."
    )
    ap.add_argument("name", choices=sorted(BUILDERS))
    ap.add_argument("out", type=Path)
    args = ap.parse_args(argv)
    try:
        data = BUILDERS[args.name]()
    except SearchR3Error as exc:
        print_error(exc)
        return 2
    write_beir(args.out, data)
    print(f"{args.name}: {len(data.queries)} queries, {len(data.corpus)} documents -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
