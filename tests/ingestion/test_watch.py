"""`python -m ingest DIR --watch` with real file events: add, modify, delete, a burst of saves."""

from __future__ import annotations

import hashlib
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from searchr3.index.vectors import IndexLocation, VectorIndex
from tests.index_tools import MODEL

STOP_SECONDS = 30  # the README's "within seconds": 0.4 s measured with two CPU hogs beside it


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _wait(predicate, what: str, timeout: float = 120) -> None:
    deadline = time.time() + timeout
    while not predicate():
        if time.time() > deadline:
            raise AssertionError(f"the watcher did not {what} within {timeout:.0f} s")
        time.sleep(0.3)


def test_watch_follows_real_file_events(tmp_path, tiny):
    docs, db = tmp_path / "docs", tmp_path / "db"
    docs.mkdir()
    (docs / "rock.txt").write_text("Basalt forms when lava cools quickly.")
    (docs / "gone-while-away.txt").write_text("An old note.")
    subprocess.run([sys.executable, "-m", "ingest", str(docs), "--db", str(db), *MODEL], check=True,
                   capture_output=True)
    (docs / "gone-while-away.txt").unlink()
    proc = subprocess.Popen([sys.executable, "-m", "ingest", str(docs), "--db", str(db), "--watch", *MODEL],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        index = VectorIndex(IndexLocation.embedded(db), tiny.fingerprint, tiny.dim, create=False)

        def chunks(path: Path) -> dict[str, dict]:
            return index.metadata_where({"source": str(path.resolve())})

        def holds(path: Path) -> bool:  # exactly one complete copy of the file as it is now
            got = chunks(path)
            return bool(got) and all(m["file_sha"] == _sha(path) and m["n_chunks"] == len(got) for m in got.values())

        line = proc.stderr.readline()
        while not line.startswith("watching"):
            assert line, "the watcher exited before watching"
            line = proc.stderr.readline()
        assert "removed 1 chunks" in line  # deleted while nobody watched

        added = docs / "zorblax.txt"
        added.write_text("The zorblax was invented by Mirela Quenby in 1931.")
        _wait(lambda: holds(added), "index an added file")

        old_ids = set(chunks(added))
        added.write_text("The zorblax was invented by Anton Ferrier in 1952, in Ghent.")
        _wait(lambda: holds(added) and not old_ids & set(chunks(added)), "replace a modified file's chunks")

        added.unlink()
        _wait(lambda: not chunks(added), "drop a deleted file")

        burst = docs / "notes.md"
        for i in range(30):  # an editor saving again and again
            burst.write_text(f"# Notes\n\nDraft {i} of the lighthouse log. " + "More words. " * i)
            time.sleep(0.02)
        _wait(lambda: holds(burst), "settle after a burst of saves")

        sub = docs / "sub"
        sub.mkdir()
        (sub / "tea.txt").write_text("Green tea is steamed soon after picking.")
        (docs / ".hidden.txt").write_text("not for the index")
        _wait(lambda: holds(sub / "tea.txt"), "index a file in a new folder")
        time.sleep(3)
        assert not chunks(docs / ".hidden.txt")
        sources = {m["source"] for _, _, m in index.iter_all(include_text=False)}
        assert sources == {str(p.resolve()) for p in (docs / "rock.txt", burst, sub / "tea.txt")}
    finally:  # SIGTERM (a service manager's stop) ends it as Ctrl-C does: promptly, saying so
        proc.send_signal(signal.SIGTERM)
        _, rest = proc.communicate(timeout=STOP_SECONDS)
    assert proc.returncode == 0 and "stopped watching" in rest


@pytest.mark.parametrize("target", ["a-file.txt", "missing"])
@pytest.mark.tiny  # starts a process
def test_watch_wants_existing_folders(tmp_path, target):
    (tmp_path / "a-file.txt").write_text("x")
    out = subprocess.run([sys.executable, "-m", "ingest", str(tmp_path / target), "--watch"], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1
