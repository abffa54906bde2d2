"""Loaders for each format and the chunker, on files the tests write."""

import pytest

from searchr3.ingestion.chunking import Chunker
from searchr3.ingestion.loaders import LoadError, Section, load, load_noting
from tests.docs import STRUCTURED, write_corpus, write_pdf


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return write_corpus(tmp_path_factory.mktemp("formats"))


def test_txt(corpus):
    (s,) = load(corpus["txt"])
    assert "lighthouse keeper" in s.text and s.heading is None


def test_markdown_splits_on_headings(corpus):
    sections = load(corpus["md"])
    assert [(s.heading, s.text) for s in sections] == [
        ("Brewing", "Green tea is brewed at eighty degrees."),
        ("Storage", "Keep the leaves in a dark tin."),
    ]


def test_rst_splits_on_underlined_titles(corpus):
    sections = load(corpus["rst"])
    assert [s.heading for s in sections] == ["Volcanoes", "Glaciers"]
    assert "Magma rises" in sections[0].text


def test_html_drops_scripts_and_keeps_headings(corpus):
    sections = load(corpus["html"])
    assert [s.heading for s in sections] == ["Apples", "Pears"]
    assert all("var x" not in s.text for s in sections)


def test_pdf_pages(corpus):
    sections = load(corpus["pdf"])
    assert [s.page for s in sections] == [1, 2]
    assert "twelve percent" in sections[0].text and "merger" in sections[1].text


def test_docx_headings(corpus):
    (s,) = load(corpus["docx"])
    assert s.heading == "Meeting" and "postponed the vote" in s.text and "clerk" in s.text


@pytest.mark.parametrize(
    "name, content, reason",
    [
        ("broken.pdf", b"%PDF-1.4\n1 0 obj garbage", "corrupt PDF"),
        ("binary.txt", bytes(range(256)) * 20, "binary content"),
        ("latin1.txt", "caf\xe9".encode("latin-1") * 10, "not valid UTF-8"),
        ("empty.md", b"   \n\n", "no text found"),
        ("broken.docx", b"PK\x03\x04 not really a zip", "corrupt DOCX"),
    ],
)
def test_bad_files_raise_one_line_errors(tmp_path, name, content, reason):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(LoadError, match=reason) as info:
        load(path)
    assert "\n" not in str(info.value)


def test_pdf_without_text(tmp_path):
    with pytest.raises(LoadError, match="no text"):
        load(write_pdf(tmp_path / "blank.pdf", [""]))


def test_chunks_respect_the_limit_and_prefer_paragraphs(embedder):
    tok = embedder.tokenizer
    chunker = Chunker(tok, max_tokens=50, overlap=20)  # a paragraph is ~15 tokens
    paragraphs = [f"Paragraph {i} says something about topic {i}, briefly and plainly." for i in range(8)]
    chunks = chunker.chunk([Section("\n\n".join(paragraphs), "H")])
    assert len(chunks) > 1
    for c in chunks:
        assert len(tok(c.text, add_special_tokens=False)["input_ids"]) <= 50 + 2
        # boundaries fall between paragraphs: every line is a whole paragraph
        assert all(line in paragraphs for line in c.text.split("\n\n"))
        assert c.heading == "H"
    # overlap: each chunk after the first starts with the previous chunk's last paragraph
    for prev, nxt in zip(chunks, chunks[1:]):
        assert nxt.text.split("\n\n")[0] == prev.text.split("\n\n")[-1]
    assert [c.position for c in chunks] == list(range(len(chunks)))


def test_long_sentences_are_cut_and_sections_are_not_crossed(embedder):
    tok = embedder.tokenizer
    chunker = Chunker(tok, max_tokens=32, overlap=0)
    long_sentence = " ".join(f"word{i}" for i in range(200))
    chunks = chunker.chunk([Section(long_sentence, "A", 1), Section("Short text.", "B", 2)])
    assert all(len(tok(c.text, add_special_tokens=False)["input_ids"]) <= 32 for c in chunks)
    assert "word0" in chunks[0].text and "word199" in chunks[-2].text
    assert chunks[-1].text == "Short text." and (chunks[-1].heading, chunks[-1].page) == ("B", 2)


def test_html_sections_keep_the_id_a_link_can_open_them_at(tmp_path, embedder):
    """Sphinx puts the id on the section, DocBook (PostgreSQL's manual) on a div or an <a> in the
    heading, hand-written HTML on the heading itself; the chunk's source link ends with it."""
    from searchr3.ingestion.pipeline import _metadata
    from searchr3.serving.source_links import SourceLinks

    page = tmp_path / "manual.html"
    page.write_text(
        "<html><body><p>Before any heading.</p>"
        '<section id="installing"><h2>Installing</h2><p>Run the installer.</p></section>'
        '<div class="sect2"><h3 class="title"><a id="tweaking"></a>Tweaking</h3><p>Edit the file.</p></div>'
        '<h2 id="removing">Removing</h2><p>Delete the folder.</p>'
        "<h2>Plain</h2><p>No id here.</p></body></html>")
    sections = load(page)
    assert [(s.heading, s.anchor) for s in sections] == [
        (None, None), ("Installing", "installing"), ("Tweaking", "tweaking"), ("Removing", "removing"),
        ("Plain", None)]
    chunks = Chunker(embedder.tokenizer, max_tokens=64, overlap=0).chunk(sections)
    meta = _metadata(str(page), "sha", len(chunks), chunks[2], "now")
    assert meta["anchor"] == "tweaking"
    assert SourceLinks(b"k" * 32).url("docs", "c1", meta).endswith("#tweaking")
    assert "#" not in SourceLinks(b"k" * 32).url("docs", "c1", _metadata(str(page), "sha", 5, chunks[4], "now"))


def test_html_keeps_code_tables_and_lists_and_drops_navigation(tmp_path):
    page = tmp_path / "manual.html"
    page.write_text(STRUCTURED)
    sections = load(page)
    assert [(s.heading, s.anchor) for s in sections] == [("Restoring a system", "restoring"), ("Packages", "packages")]
    text = "\n\n".join(s.text for s in sections)
    for furniture in ("Prev", "Next:", "Table of Contents", "1. Restoring"):
        assert furniture not in text  # navigation bars and tables of contents are not indexed
    # code is fenced and keeps its lines, its '#' prompts and its indentation
    assert ("```\n# mkdir -p /path/to/old/system\n# mount /dev/sda1 /path/to/old/system\n"
            "    cd /path/to/old/system\n```" in sections[0].text)
    assert "- Check the disk.\n- Copy /etc back." in sections[0].text
    assert sections[1].text == ("| package | popcon | size |\n| --- | --- | --- |\n"
                                "| grub-rescue-pc | V:0, I:1 | 6422 |\n| grub2 | V:2, I:9 | 120 |")


def test_markdown_code_fences_hold_no_headings(tmp_path):
    note = tmp_path / "note.md"
    note.write_text("# Setup\n\nRun this:\n\n```sh\n# make the folder\nmkdir -p /x\n```\n\n## Next\n\nDone.\n")
    assert [(s.heading, s.text) for s in load(note)] == [
        ("Setup", "Run this:\n\n```sh\n# make the folder\nmkdir -p /x\n```"), ("Next", "Done.")]


def test_an_example_inside_a_definition_keeps_its_lines(tmp_path):
    page = tmp_path / "api.html"
    page.write_text("<h2>PurePath.suffix</h2><dl><dt>PurePath.suffix</dt><dd><p>The file extension, if any:</p>"
                    "<div class='highlight'><pre>&gt;&gt;&gt; PurePosixPath('a/b.py').suffix\n'.py'</pre></div>"
                    "<p>See also suffixes.</p></dd></dl>")
    (section,) = load(page)
    assert section.text == ("PurePath.suffix\n\nThe file extension, if any:\n\n"
                            "```\n>>> PurePosixPath('a/b.py').suffix\n'.py'\n```\n\nSee also suffixes.")


def test_a_code_block_stays_whole_and_a_long_one_is_cut_between_lines_each_piece_fenced():
    from searchr3.ingestion.chunking import paragraphs_of
    from searchr3.model.default import load_default_tokenizer

    short = "Run:\n\n```sh\n# first\n\n# second, after a blank line\n```\nDone."
    assert paragraphs_of(short) == ["Run:", "```sh\n# first\n\n# second, after a blank line\n```", "Done."]
    lines = [f"    step_{i} = compute({i}, {i + 1})  # line {i}" for i in range(60)]
    text = "Intro.\n\n```python\n" + "\n".join(lines[:30]) + "\n\n" + "\n".join(lines[30:]) + "\n```"
    chunks = Chunker(load_default_tokenizer(), max_tokens=128, overlap=0).chunk([Section(text, "Example")])
    code = [c.text for c in chunks if "step_" in c.text]
    assert len(code) > 2
    for piece in code:  # every piece is a whole fenced block of whole lines, indentation kept
        assert piece.count("```") == 2 and piece.split("\n")[0] in ("```python", "Intro.")
        assert all(line in lines or line in ("```python", "```", "", "Intro.") for line in piece.split("\n"))
    shown = [line for piece in code for line in piece.split("\n") if line.startswith("    step_")]
    assert shown == lines  # nothing lost or repeated (no overlap asked)


def test_examples_written_as_code_with_line_breaks_and_untitled_subsections_link_to_their_section(tmp_path):
    """Apache's manual: examples are ``<p><code>…<br>…</code></p>``; a sub-heading without an id inside
    the page container links to the section it sits in, not to the container."""
    page = tmp_path / "access.html"
    page.write_text("<html><body><div id='page-content'><div id='preamble'><h1>Access Control</h1><p>Intro.</p></div>"
                    "<h2 id='host'>Access control by host</h2><p>Use Require.</p>"
                    "<div class='example'><h3>Examples of IP address formats</h3>"
                    "<pre># Full IP address\nRequire ip 10.2.3.4</pre></div>"
                    "<p>To create the file, type:</p><div class='example'><p><code>\n"
                    "      # htpasswd -c /usr/local/apache/passwd/passwords rbowen<br>\n"
                    "      New password: mypassword\n    </code></p></div></div></body></html>")
    sections = load(page)
    assert [(s.heading, s.anchor) for s in sections] == [
        ("Access Control", "preamble"), ("Access control by host", "host"), ("Examples of IP address formats", "host")]
    assert sections[2].text == (
        "```\n# Full IP address\nRequire ip 10.2.3.4\n```\n\nTo create the file, type:\n\n"
        "```\n# htpasswd -c /usr/local/apache/passwd/passwords rbowen\nNew password: mypassword\n```")


def test_docx_keeps_tables_lists_and_code_in_document_order(tmp_path):
    from docx import Document
    from docx.enum.style import WD_STYLE_TYPE

    doc = Document()
    doc.styles.add_style("Source Code", WD_STYLE_TYPE.PARAGRAPH)
    doc.add_heading("Restoring", level=1)
    doc.add_paragraph("Mount the disk as root:")
    doc.add_paragraph("# mkdir -p /mnt/old", style="Source Code")
    doc.add_paragraph("    mount /dev/sda1 /mnt/old", style="Source Code")
    doc.add_paragraph("Check the disk.", style="List Bullet")
    doc.add_paragraph("Copy /etc back.", style="List Bullet")
    doc.add_paragraph("Reboot.", style="List Number")
    doc.add_paragraph("Log in.", style="List Number")
    table = doc.add_table(rows=3, cols=2)
    for row, cells in zip(table.rows, [("package", "size"), ("grub2", "120"), ("grub | pc", "6422")]):
        for cell, text in zip(row.cells, cells):
            cell.text = text
    doc.add_paragraph("The end.")
    path = tmp_path / "restore.docx"
    doc.save(str(path))
    (section,) = load(path)
    assert section.heading == "Restoring"
    assert section.text == (
        "Mount the disk as root:\n\n```\n# mkdir -p /mnt/old\n    mount /dev/sda1 /mnt/old\n```\n\n"
        "- Check the disk.\n- Copy /etc back.\n\n1. Reboot.\n2. Log in.\n\n"
        "| package | size |\n| --- | --- |\n| grub2 | 120 |\n| grub \\| pc | 6422 |\n\nThe end.")


def test_rst_literal_blocks_and_code_directives_stay_code(tmp_path):
    doc = tmp_path / "install.rst"
    doc.write_text("Install\n=======\n\nRun this::\n\n    # as root\n    make install\n\n    make check\n\n"
                   "Then:\n\n.. code-block:: python\n   :linenos:\n\n   import os\n   print(os.sep)\n\nDone.\n")
    (section,) = load(doc)
    assert section.heading == "Install"
    assert section.text == ("Run this:\n\n```\n# as root\nmake install\n\nmake check\n```\n\nThen:\n\n"
                            "```python\nimport os\nprint(os.sep)\n```\n\nDone.")


def _manual_page(number: int, lines: list) -> list:
    """A page with a running head and a page number at its foot around ``lines``."""
    return [("Helvetica", 9, 72, 760, f"Widget Manual {number}"), *lines, ("Helvetica", 9, 300, 40, str(number))]


def test_pdf_reads_headings_code_and_prose_as_laid_out(tmp_path):
    """Headings by type size (their level by size), code by typeface with its indentation and blank
    lines, prose lines joined (a hyphenated word rejoined, a long identifier wrapped onto its own
    line kept in the sentence), list items on their own lines, a table as rows under its header,
    running heads, page numbers and a table of contents dropped."""
    H, B, C = "Helvetica", "Helvetica-Bold", "Courier"
    first = _manual_page(1, [
        (B, 20, 72, 700, "Installing"),
        (H, 11, 72, 670, "Fetch the sources and build them with the usual"),
        (H, 11, 72, 657, "com-"),
        (H, 11, 72, 644, "mands. Then install the"),
        (C, 11, 72, 631, "widget_daemon_configuration"),
        (H, 11, 72, 618, "file as root."),
        (B, 14, 72, 590, "From source"),
        (H, 11, 72, 570, "Run:"),
        (C, 11, 90, 550, "# ./configure --prefix=/opt"),
        (C, 11, 90, 537, "make"),
        (C, 11, 90, 511, "for f in *.conf; do"),
        (C, 11, 103.2, 498, "cp $f /etc/widget/"),
        (C, 11, 90, 485, "done"),
        (H, 11, 72, 460, "- the daemon starts at boot"),
        (H, 11, 72, 447, "- logs go to /var/log/widget"),
    ])
    second = _manual_page(2, [
        (B, 20, 72, 700, "Ports"), (H, 11, 72, 680, "The daemon listens on these ports:"),
        (B, 11, 72, 660, "Service"), (B, 11, 200, 660, "Port"), (B, 11, 300, 660, "Protocol"),
        (H, 11, 72, 647, "widgetd"), (H, 11, 200, 647, "7070"), (H, 11, 300, 647, "TCP"),
        (H, 11, 72, 634, "widget-discovery"), (H, 11, 200, 634, "7071"), (H, 11, 300, 634, "UDP"),
        (B, 20, 72, 600, "Removing"), (H, 11, 72, 570, "Delete /opt/widget.")])
    contents = _manual_page(3, [(B, 20, 72, 700, "Contents"), (H, 11, 72, 670, "Installing . . . . . . . . . . . 1"),
                                (H, 11, 72, 657, "From source . . . . . . . . . . 1"),
                                (H, 11, 72, 644, "Ports . . . . . . . . . . . . . . 2")])
    sections, notes = load_noting(write_pdf(tmp_path / "manual.pdf", [first, second, contents]))
    assert notes == []
    assert [(s.heading, s.path, s.page) for s in sections] == [
        ("Installing", (), 1), ("From source", ("Installing",), 1), ("Ports", (), 2), ("Removing", (), 2)]
    assert sections[2].text == ("The daemon listens on these ports:\n\n| Service | Port | Protocol |\n"
                                "| --- | --- | --- |\n| widgetd | 7070 | TCP |\n"
                                "| widget-discovery | 7071 | UDP |")  # a table, its header in bold
    assert sections[0].text == ("Fetch the sources and build them with the usual commands. Then install the "
                                "widget_daemon_configuration file as root.")
    assert sections[1].text == ("Run:\n\n```\n# ./configure --prefix=/opt\nmake\n\nfor f in *.conf; do\n"
                                "  cp $f /etc/widget/\ndone\n```\n\n"
                                "- the daemon starts at boot\n- logs go to /var/log/widget")
    assert sections[3].text == "Delete /opt/widget."  # and the contents page's dotted entries are not indexed


def test_every_format_gives_each_section_its_heading_path(tmp_path, embedder):
    from searchr3.ingestion.pipeline import _metadata
    (tmp_path / "a.md").write_text("# Guide\n\nIntro.\n\n## Setup\n\nSet.\n\n### Proxy\n\nProx.\n\n## Use\n\nUse.\n")
    (tmp_path / "a.rst").write_text("=====\nGuide\n=====\n\nIntro.\n\nSetup\n=====\n\nSet.\n\n"
                                     "Proxy\n-----\n\nProx.\n\nUse\n===\n\nUse.\n")
    (tmp_path / "a.html").write_text("<h1>Guide</h1><p>Intro.</p><h2>Setup</h2><p>Set.</p><h3>Proxy</h3>"
                                     "<p>Prox.</p><h2>Use</h2><p>Use.</p>")
    from docx import Document

    doc = Document()
    outline = [(1, "Guide", "Intro."), (2, "Setup", "Set."), (3, "Proxy", "Prox."), (2, "Use", "Use.")]
    for level, title, text in outline:
        doc.add_heading(title, level=level)
        doc.add_paragraph(text)
    doc.save(str(tmp_path / "a.docx"))
    expected = [("Guide", ()), ("Setup", ("Guide",)), ("Proxy", ("Guide", "Setup")), ("Use", ("Guide",))]
    for name in ("a.md", "a.rst", "a.html", "a.docx"):
        assert [(s.heading, s.path) for s in load(tmp_path / name)] == expected, name
    chunks = Chunker(embedder.tokenizer, max_tokens=64, overlap=0).chunk(load(tmp_path / "a.md"))
    assert _metadata("a.md", "sha", 4, chunks[2], "now")["heading_path"] == "Guide › Setup › Proxy"
    assert "heading_path" not in _metadata("a.md", "sha", 4, chunks[0], "now")  # a top heading: its heading says it
    assert chunks[2].embedding_text == "Proxy\nProx."  # what is embedded is unchanged


def test_parser_warnings_are_collected_not_printed(tmp_path, capfd):
    sections, notes = load_noting(write_pdf(tmp_path / "off.pdf", ["The ferry leaves at noon."], startxref_off=7))
    assert "ferry" in sections[0].text
    assert notes and any("startxref" in n for n in notes)
    out, err = capfd.readouterr()
    assert "startxref" not in out + err


def test_a_page_header_menu_and_breadcrumb_trail_are_not_indexed(tmp_path):
    """Apache's manual: a page-header div with a menu paragraph, and a div id="path" trail."""
    page = tmp_path / "cgi.html"
    page.write_text('<html><head><title>CGI - Server Version 2.4</title></head><body>'
                    '<div id="page-header"><p class="menu"><a href="m.html">Modules</a> | '
                    '<a href="s.html">Sitemap</a></p>'
                    '<p class="apache">Server Version 2.4</p></div>'
                    '<div id="path"><a href="/">Server</a> &gt; <a href="d.html">Documentation</a></div>'
                    '<div id="page-content"><h1>Dynamic Content with CGI</h1><h2 id="intro">Introduction</h2>'
                    '<p>CGI defines how a web server runs programs.</p></div></body></html>')
    assert [(s.heading, s.path, s.text) for s in load(page)] == [
        ("Introduction", ("Dynamic Content with CGI",), "CGI defines how a web server runs programs.")]
