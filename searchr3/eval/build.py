"""Build evaluation sets: ``python -m searchr3.eval.build {pyfaq,perlfaq,manxl} OUT``.

- ``pyfaq``: every question of the Python FAQ (Debian's ``python3-doc``) with its answer;
  the corpus is all answers (no titles, so the question text is not in the corpus).
- ``perlfaq``: every question of the Perl FAQ (``perl-doc``, ``perlfaq1``–``perlfaq9``) with
  its answer, the same way: real questions from another language's community.
- ``manxl``: cross-lingual. German and French man pages (``manpages-de``, ``manpages-fr``):
  the translated NAME summary (``ls - Verzeichnisinhalte auflisten`` → ``Verzeichnisinhalte
  auflisten``) is the query, the English page's DESCRIPTION its passage; the corpus is the
  English descriptions of every held-out page with a translation (one page in five,
  ``searchr3.corpora.manpages.held_out``, which the training builders skip in every language). Its
  queries are the fixed list in ``manxl_queries.txt``: the set does not grow with the packages
  a machine happens to have (nano translates its own pages, and the set-up installs it).

No training builder reads the FAQ pages or ``perl-doc``.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterable
from pathlib import Path

from searchr3.cli import print_error
from searchr3.corpora.manpages import MAN_ROOT, held_out, page_keys, read_page
from searchr3.corpora.pod import pod_questions
from searchr3.corpora.pydocs import python_doc_root
from searchr3.errors import SearchR3Error
from searchr3.eval.beir import Dataset, write_beir

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


def one_passage_each(items: Iterable[tuple[str, str, str, str]], missing: str) -> Dataset:
    """A dataset in which each query has one relevant passage, from ``(query key, passage key,
    query, passage)`` items (queries ``q:KEY``, passages ``d:KEY``; passages may be shared).

    Raises:
        SearchR3Error: ``missing``, when there are no items.
    """
    corpus: dict[str, tuple[str, str]] = {}
    queries: dict[str, str] = {}
    qrels: dict[str, dict[str, int]] = {}
    for query_key, passage_key, query, passage in items:
        corpus.setdefault(f"d:{passage_key}", ("", passage))
        queries[f"q:{query_key}"] = query
        qrels[f"q:{query_key}"] = {f"d:{passage_key}": 1}
    if not queries:
        raise SearchR3Error(missing)
    return Dataset(corpus, queries, qrels)


def build_pyfaq(root: Path | None = None) -> Dataset:
    def items():
        seen = set()
        for page in faq_pages(root):
            for sid, question, answer in faq_pairs(page):
                key = f"{page.stem}/{sid}"
                if key not in seen:  # a section id repeated on a page: its first question only
                    seen.add(key)
                    yield key, key, question, answer

    return one_passage_each(items(), "no FAQ questions found")


def perlfaq_pages(root: Path | None = None) -> list[Path]:
    """``perlfaq1.pod`` … ``perlfaq9.pod`` of the installed ``perl-doc`` (newest Perl first found)."""
    roots = [root] if root else sorted(Path("/usr/share/perl").glob("*/pod"), reverse=True)
    for folder in roots:
        pages = sorted(folder.glob("perlfaq[1-9].pod"))
        if pages:
            return pages
    raise SearchR3Error("no perlfaq pages found (apt-get install perl-doc)")


def build_perlfaq(root: Path | None = None) -> Dataset:
    def items():
        for page in perlfaq_pages(root):
            text = page.read_text(encoding="utf-8", errors="replace")
            for n, (question, answer) in enumerate(pod_questions(text)):
                yield f"{page.stem}/{n}", f"{page.stem}/{n}", question, answer

    return one_passage_each(items(), "no perlfaq questions found")


MANXL_QUERIES = Path(__file__).with_name("manxl_queries.txt")


def manxl_query_keys(path: Path = MANXL_QUERIES) -> frozenset[str]:
    """The manxl queries' ``language:page`` keys (``de:man1/ls.1.gz``), as first measured."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip() for line in lines if line.strip() and not line.startswith("#"))


def build_manxl(root: Path = MAN_ROOT, languages: tuple[str, ...] = ("de", "fr"),
                keys: frozenset[str] | None = None) -> Dataset:
    """The cross-lingual set: of ``keys`` (default: ``manxl_query_keys()``), the pages found
    translated under ``root``."""
    keys = manxl_query_keys() if keys is None else keys
    english = {key: path for key, path in page_keys(root=root) if held_out(key)}

    def items():
        for lang in languages:
            for key, path in page_keys(lang, root):
                if key not in english or f"{lang}:{key}" not in keys:
                    continue
                page, original = read_page(path, key), read_page(english[key], key)
                if page and original and page.summary.lower() != original.summary.lower():  # translated
                    yield f"{lang}:{key}", key, page.summary, original.description

    return one_passage_each(items(), "no translated man pages found (apt-get install manpages-de manpages-fr)")


BUILDERS = {"pyfaq": build_pyfaq, "perlfaq": build_perlfaq, "manxl": build_manxl}


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
