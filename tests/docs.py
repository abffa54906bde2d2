"""Small documents of each supported format, written by the tests."""

from __future__ import annotations

from pathlib import Path

PDF_FONTS = {"Helvetica": "F1", "Helvetica-Bold": "F2", "Courier": "F3"}
PdfLine = tuple  # (font, size, x, y, text)


def write_pdf(path: Path, pages: list[str | list[PdfLine]], *, startxref_off: int = 0) -> Path:
    """A minimal valid PDF: a page is one line of 12 pt Helvetica, or lines ``(font, size, x, y,
    text)`` set in a standard face (:data:`PDF_FONTS`); ``startxref_off`` misplaces the
    cross-reference pointer (a PDF pypdf reads past, with a warning)."""
    objects: list[bytes] = []
    n = len(pages)
    kids = " ".join(f"{3 + 2 * i} 0 R" for i in range(n))
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {n} >>".encode())
    font_obj = 3 + 2 * n
    fonts = " ".join(f"/{ref} {font_obj + k} 0 R" for k, ref in enumerate(PDF_FONTS.values()))
    for i, page in enumerate(pages):
        lines = [("Helvetica", 12, 72, 720, page)] if isinstance(page, str) else page
        ops = []
        for font, size, x, y, text in lines:
            escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
            ops.append(f"BT /{PDF_FONTS[font]} {size} Tf {x} {y} Td ({escaped}) Tj ET")
        stream = "\n".join(ops).encode("latin-1")
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {4 + 2 * i} 0 R "
            f"/Resources << /Font << {fonts} >> >> >>".encode()
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    for face in PDF_FONTS:
        objects.append(f"<< /Type /Font /Subtype /Type1 /BaseFont /{face} >>".encode())
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref + startxref_off}\n%%EOF\n".encode()
    path.write_bytes(bytes(out))
    return path


def write_docx(path: Path, heading: str, paragraphs: list[str]) -> Path:
    from docx import Document

    doc = Document()
    doc.add_heading(heading, level=1)
    for p in paragraphs:
        doc.add_paragraph(p)
    doc.save(str(path))
    return path


def write_corpus(folder: Path) -> dict[str, Path]:
    """One file per format, each with a distinctive fact to search for."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {
        "txt": folder / "notes.txt",
        "md": folder / "guide.md",
        "rst": folder / "manual.rst",
        "html": folder / "page.html",
        "pdf": folder / "report.pdf",
        "docx": folder / "memo.docx",
    }
    files["txt"].write_text("The lighthouse keeper lit the lamp at dusk every evening.\n\nGulls nested on the rocks.")
    files["md"].write_text(
        "# Brewing\n\nGreen tea is brewed at eighty degrees.\n\n## Storage\n\nKeep the leaves in a dark tin.\n"
    )
    files["rst"].write_text(
        "Volcanoes\n=========\n\nMagma rises through the crust and erupts as lava.\n\n"
        "Glaciers\n--------\n\nIce sheets carve valleys over millennia.\n"
    )
    files["html"].write_text(
        "<html><head><title>Orchard</title><script>var x=1;</script></head><body>"
        "<h1>Apples</h1><p>Apple trees blossom in spring and fruit in autumn.</p>"
        "<h2>Pears</h2><p>Pear wood is prized by violin makers.</p></body></html>"
    )
    write_pdf(
        files["pdf"], ["Quarterly revenue grew by twelve percent.", "Second page: the board approved the merger."]
    )
    write_docx(
        files["docx"],
        "Meeting",
        ["The committee postponed the vote on the bridge.", "Minutes were taken by the clerk."],
    )
    return files


#: A manual's HTML page as Debian's and Sphinx's tools write them: navigation bars, a table of
#: contents, sections with ids, a root-prompt code block, a list and a table.
STRUCTURED = """<html><head><title>Manual</title></head><body>
<div class="navheader"><table><tr><td><a accesskey="p" href="ch01.html">Prev</a></td>
  <td><a accesskey="n" href="ch03.html">Next</a></td></tr></table></div>
<div class="header"><p>Next: <a href="#b" rel="next">Backups</a>, Up: <a href="#top" rel="up">Top</a></p></div>
<div class="toc"><p>Table of Contents</p><dl><dt><a href="#a">1. Restoring</a></dt></dl></div>
<ul><li><a href="#restoring">Restoring a system</a></li><li><a href="#packages">Packages</a></li></ul>
<div class="section" id="restoring"><h2>Restoring a system</h2>
<p>Mount the old disk first, as root:</p>
<pre class="screen"># mkdir -p /path/to/old/system
# mount /dev/sda1 <b>/path/to/old/system</b>
    cd /path/to/old/system</pre>
<ul><li>Check the disk.</li><li>Copy <code>/etc</code> back.</li></ul>
</div>
<div class="section" id="packages"><h2>Packages</h2>
<table><tr><th>package</th><th>popcon</th><th>size</th></tr>
<tr><td>grub-rescue-pc</td><td>V:0, I:1</td><td>6422</td></tr>
<tr><td>grub2</td><td>V:2, I:9</td><td>120</td></tr></table>
</div></body></html>"""
