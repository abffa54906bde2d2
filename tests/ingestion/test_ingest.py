"""Ingestion into a real Chroma (embedded, and a `chroma run` server) with the tiny stand-in model
(the real model where a run must last long enough to be killed)."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from searchr3 import FingerprintMismatchError
from searchr3.index.bm25 import LexicalIndex
from searchr3.index.vectors import IndexLocation, VectorIndex
from searchr3.ingestion.pipeline import EMBED_GROUP, Ingestor, collect_files, is_complete
from tests.docs import write_corpus, write_pdf
from tests.index_tools import model_args

CHUNK_TOKENS = 64


def _ingestor(embedder, location):
    return Ingestor(embedder, VectorIndex(location, embedder.fingerprint, embedder.dim), CHUNK_TOKENS, 8)


def _state(index: VectorIndex) -> dict[str, tuple[str, str]]:
    return {cid: (meta["source"], text) for cid, text, meta in index.iter_all()}


def test_each_format_is_indexed_with_its_metadata(tmp_path, tiny):
    files = write_corpus(tmp_path / "docs")
    ing = _ingestor(tiny, IndexLocation.embedded(tmp_path / "db"))
    s = ing.run([tmp_path / "docs"])
    assert (s.files_seen, s.files_indexed, s.files_failed, s.files_skipped) == (6, 6, 0, 0)
    metas = [m for _, _, m in ing.index.iter_all()]
    assert {Path(m["source"]).name for m in metas} == {p.name for p in files.values()}
    assert sorted(m["page"] for m in metas if m["file_name"] == "report.pdf") == [1, 2]
    assert {m.get("heading") for m in metas if m["file_name"] == "guide.md"} == {"Brewing", "Storage"}
    # dense search finds the planted fact
    hits = ing.index.query(tiny.embed_query("At what temperature should green tea be brewed?"), k=3)
    assert any("eighty degrees" in h.text for h in hits)
    # BM25 covers exactly the same chunks
    lex = LexicalIndex.in_step_with(ing.index)
    assert sorted(lex.ids) == sorted(ing.index.all_ids())
    top, _ = lex.search("violin makers", 1)[0]
    assert "violin" in ing.index.get([top])[top][0]


def test_incremental_runs(tmp_path, tiny):
    docs = tmp_path / "docs"
    files = write_corpus(docs)
    ing = _ingestor(tiny, IndexLocation.embedded(tmp_path / "db"))
    first = ing.run([docs])
    before = _state(ing.index)
    # unchanged: nothing added or removed
    again = ing.run([docs])
    assert (again.files_unchanged, again.files_indexed, again.chunks_added, again.chunks_removed) == (6, 0, 0, 0)
    assert _state(ing.index) == before and again.chunks_total == first.chunks_total
    # changed: old chunks replaced
    files["txt"].write_text("The lighthouse was automated in 1990 and the keeper retired.")
    changed = ing.run([docs])
    assert (changed.files_indexed, changed.files_unchanged) == (1, 5)
    assert changed.chunks_added >= 1 and changed.chunks_removed >= 1
    texts = [t for _, (src, t) in _state(ing.index).items() if src == str(files["txt"])]
    assert texts == ["The lighthouse was automated in 1990 and the keeper retired."]
    lex = LexicalIndex.in_step_with(ing.index)
    top, _ = lex.search("automated lighthouse", 1)[0]
    assert "automated" in ing.index.get([top])[top][0]
    assert all("Gulls" not in ing.index.get([i])[i][0] for i, _ in lex.search("gulls nested rocks", 5))
    # removed: kept without --prune, gone with it
    files["md"].unlink()
    kept = ing.run([docs])
    assert kept.chunks_removed == 0 and any(src == str(files["md"]) for src, _ in _state(ing.index).values())
    pruned = ing.run([docs], prune=True)
    assert pruned.chunks_removed == 2
    assert not any(src == str(files["md"]) for src, _ in _state(ing.index).values())


def test_corrupt_and_binary_files_are_reported_and_the_rest_indexed(tmp_path, tiny):
    docs = tmp_path / "docs"
    write_corpus(docs)
    (docs / "broken.pdf").write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog")
    (docs / "fake.txt").write_bytes(os.urandom(4096))
    (docs / "image.png").write_bytes(b"\x89PNG\r\n")
    ing = _ingestor(tiny, IndexLocation.embedded(tmp_path / "db"))
    s = ing.run([docs])
    assert (s.files_seen, s.files_indexed, s.files_failed, s.files_skipped) == (9, 6, 2, 1)
    assert {Path(f["path"]).name for f in s.failures} == {"broken.pdf", "fake.txt"}


def test_a_file_that_turns_corrupt_keeps_its_old_chunks(tmp_path, tiny):
    docs = tmp_path / "docs"
    files = write_corpus(docs)
    ing = _ingestor(tiny, IndexLocation.embedded(tmp_path / "db"))
    ing.run([docs])
    before = _state(ing.index)
    files["pdf"].write_bytes(b"%PDF-1.4 truncated")
    s = ing.run([docs])
    assert s.files_failed == 1 and _state(ing.index) == before


class _InterruptAfter:
    """A progress listener that raises KeyboardInterrupt after ``n`` stored chunk groups."""

    def __init__(self, n):
        self.n = n

    def start(self, files): pass
    def file_started(self, path, chunks): pass
    def file_done(self, result): pass

    def chunks_done(self, n):
        self.n -= 1
        if self.n <= 0:
            raise KeyboardInterrupt


def _long_docs(folder: Path, files=3, paragraphs=40) -> Path:
    folder.mkdir(parents=True)
    for f in range(files):
        body = "\n\n".join(
            f"Document {f} paragraph {p}: the quick brown fox number {p} jumps over lazy dog {f}."
            for p in range(paragraphs)
        )
        (folder / f"long{f}.txt").write_text(body)
    return folder


def test_interrupted_run_is_finished_without_duplicates(tmp_path, tiny):
    docs = _long_docs(tmp_path / "docs", files=2, paragraphs=100)  # > EMBED_GROUP chunks a file
    clean = _ingestor(tiny, IndexLocation.embedded(tmp_path / "clean"))
    clean.run([docs])
    expected = _state(clean.index)

    ing = _ingestor(tiny, IndexLocation.embedded(tmp_path / "db"))
    with pytest.raises(KeyboardInterrupt):
        ing.run([docs], progress=_InterruptAfter(1))  # stops inside the first file
    partial = _state(ing.index)
    first_file = [cid for cid, (src, _) in expected.items() if src.endswith("long0.txt")]
    assert len(partial) == EMBED_GROUP < len(first_file)  # stopped inside the first file
    s = ing.run([docs])
    assert _state(ing.index) == expected
    assert s.chunks_total == len(expected) and s.files_indexed == 2
    assert sorted(LexicalIndex.in_step_with(ing.index).ids) == sorted(expected)


def _cli(*args, timeout=300, model: list[str] | None = None):
    """``python -m ingest ARGS`` over the tiny model (``model``: other model options, ``[]`` the default)."""
    model = model_args() if model is None else model
    return subprocess.run(
        [sys.executable, "-m", "ingest", *map(str, args), *model], capture_output=True, text=True, timeout=timeout
    )


@pytest.mark.tiny  # starts a process
def test_cli_json_summary_and_exit_status(tmp_path):
    docs = tmp_path / "docs"
    write_corpus(docs)
    out = _cli(docs, "--db", tmp_path / "db", "--json")
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    for key in ("files_seen", "files_indexed", "files_unchanged", "files_failed", "chunks_added", "chunks_removed"):
        assert key in summary
    assert summary["files_indexed"] == 6 and summary["chunks_added"] > 0
    (docs / "bad.pdf").write_bytes(b"%PDF-1.4 junk")
    out = _cli(docs, "--db", tmp_path / "db", "--json")
    summary = json.loads(out.stdout)
    assert out.returncode == 1 and summary["files_failed"] == 1 and summary["files_unchanged"] == 6
    assert f"failed {docs / 'bad.pdf'}: corrupt PDF" in out.stderr  # one line, however long the path
    # a PDF the parser reads past problems in: indexed, its warnings one counted line (not printed one by one)
    (docs / "bad.pdf").unlink()
    write_pdf(docs / "misplaced.pdf", ["The ferry leaves at noon."], startxref_off=7)
    out = _cli(docs, "--db", tmp_path / "db")
    assert out.returncode == 0, out.stderr
    notes = [line for line in (out.stdout + out.stderr).splitlines() if "parsers read past" in line]
    assert len(notes) == 1 and "problems in 1 file (first:" in notes[0] and "misplaced.pdf" in notes[0]
    assert "startxref" not in (out.stdout + out.stderr).replace(notes[0], "")


@pytest.mark.tiny  # starts a process
def test_a_re_run_that_changes_nothing_never_loads_the_model(tmp_path):
    """Unchanged files (and a corrupt one, failed again) are told from the index alone: the model's
    weights are replaced by junk of the same size (same fingerprint) and the re-run still succeeds;
    once a file changes, the run needs the model and says in one line that it cannot load it."""
    import shutil

    from tests.tiny_model import tiny_model_dir

    model = tmp_path / "model"
    shutil.copytree(tiny_model_dir(), model)
    options = ["--model", str(model), "--precision", "float32"]
    docs = tmp_path / "docs"
    write_corpus(docs)
    (docs / "bad.pdf").write_bytes(b"%PDF-1.4 junk")
    first = json.loads(_cli(docs, "--db", tmp_path / "db", "--json", "--prune", model=options).stdout)
    assert first["files_indexed"] == 6 and first["files_failed"] == 1
    weights = model / "model.safetensors"
    weights.write_bytes(b"\0" * weights.stat().st_size)

    again = _cli(docs, "--db", tmp_path / "db", "--json", "--prune", model=options)
    summary = json.loads(again.stdout)
    assert again.returncode == 1 and f"failed {docs / 'bad.pdf'}: corrupt PDF" in again.stderr
    assert (summary["files_unchanged"], summary["files_failed"], summary["chunks_added"]) == (6, 1, 0)
    assert summary["chunks_total"] == first["chunks_total"]

    (docs / "notes.md").write_text("# Notes\n\nA new file needs the model.\n")
    changed = _cli(docs, "--db", tmp_path / "db", "--json", model=options)
    (line,) = changed.stderr.strip().splitlines()
    assert changed.returncode == 2 and line.startswith(f"error: could not load model '{model}': ")


@pytest.mark.tiny  # starts a process
def test_cli_bad_path_is_one_line(tmp_path):
    out = _cli(tmp_path / "nowhere", "--db", tmp_path / "db")
    assert out.returncode == 2
    assert out.stderr.strip() == f"error: no such file or directory: {tmp_path / 'nowhere'}"


@pytest.mark.tiny  # starts a process
def test_cli_warns_when_a_folder_holds_nothing_it_can_read(tmp_path):
    folder = tmp_path / "pictures"
    folder.mkdir()
    (folder / "cat.jpg").write_bytes(b"\xff\xd8\xff")
    out = _cli(folder, "--db", tmp_path / "db", "--json")
    assert out.returncode == 0 and json.loads(out.stdout)["files_skipped"] == 1
    assert out.stderr.strip().splitlines()[-1] == (
        f"warning: no documents to index in {folder} (1 other file skipped); supported: "
        ".docx .htm .html .markdown .md .pdf .rst .txt")
    (folder / "notes.md").write_text("# Cats\n\nCats sleep most of the day.\n")
    out = _cli(folder, "--db", tmp_path / "db", "--json")
    assert out.returncode == 0 and "warning" not in out.stderr


@pytest.mark.model  # the real model: the run must still be going when it is killed
def test_killed_run_is_finished_by_the_next(tmp_path):
    docs = _long_docs(tmp_path / "docs", files=4, paragraphs=60)
    db = tmp_path / "db"
    proc = subprocess.Popen(
        [sys.executable, "-m", "ingest", str(docs), "--db", str(db), "--chunk-tokens", "48", "--overlap", "0"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(14)  # model load (~2 s) and some embedding
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    out = _cli(docs, "--db", db, "--chunk-tokens", 48, "--overlap", 0, "--json", model=[])
    assert out.returncode == 0, out.stderr
    resumed = json.loads(out.stdout)
    clean = _cli(docs, "--db", tmp_path / "clean", "--chunk-tokens", 48, "--overlap", 0, "--json", model=[])
    clean = json.loads(clean.stdout)
    assert resumed["chunks_total"] == clean["chunks_total"]
    assert resumed["files_indexed"] + resumed["files_unchanged"] == 4


def test_fingerprint_mismatch_is_refused(tmp_path, tiny):
    location = IndexLocation.embedded(tmp_path / "db")
    VectorIndex(location, "some-other-model|adapter=none|prompts=v1", tiny.dim)
    with pytest.raises(FingerprintMismatchError, match="some-other-model"):
        VectorIndex(location, tiny.fingerprint, tiny.dim)
    docs = tmp_path / "docs"
    write_corpus(docs)
    out = _cli(docs, "--db", tmp_path / "db")
    assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1
    assert "holds vectors of model 'some-other-model" in out.stderr


def test_collect_files_skips_hidden_and_reports_missing(tmp_path):
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "x.txt").write_text("hidden")
    (tmp_path / "a.txt").write_text("a")
    (tmp_path / "b.bin").write_text("b")
    supported, skipped = collect_files([tmp_path])
    assert [p.name for p in supported] == ["a.txt"] and [p.name for p in skipped] == ["b.bin"]
    with pytest.raises(FileNotFoundError):
        collect_files([tmp_path / "missing"])


def test_is_complete():
    assert not is_complete({}, "x")
    assert is_complete({"a": {"file_sha": "x", "n_chunks": 2}, "b": {"file_sha": "x", "n_chunks": 2}}, "x")
    assert not is_complete({"a": {"file_sha": "x", "n_chunks": 2}}, "x")
    assert not is_complete({"a": {"file_sha": "y", "n_chunks": 1}}, "x")


@pytest.mark.tiny  # starts a process
def test_same_flow_against_a_chroma_server(tmp_path, chroma_server):
    docs = tmp_path / "docs"
    files = write_corpus(docs)
    args = ["--chroma-host", "127.0.0.1", "--chroma-port", chroma_server, "--collection", "server-test", "--json"]
    first = json.loads(_cli(docs, *args).stdout)
    assert first["files_indexed"] == 6 and first["chunks_added"] > 0
    again = json.loads(_cli(docs, *args).stdout)
    assert again["files_unchanged"] == 6 and again["chunks_added"] == 0
    files["txt"].unlink()
    pruned = json.loads(_cli(docs, *args, "--prune").stdout)
    assert pruned["chunks_removed"] == 1 and pruned["chunks_total"] == first["chunks_total"] - 1


def test_server_fingerprint_mismatch(chroma_server, tiny):
    location = IndexLocation.server("127.0.0.1", chroma_server, "server-mismatch")
    VectorIndex(location, "another-model", tiny.dim)
    with pytest.raises(FingerprintMismatchError):
        VectorIndex(location, tiny.fingerprint, tiny.dim)
