"""``python -m ingest --ray`` on a real local Ray instance (2 CPUs) with the real model: the
index equals a local run's, and killed workers or drivers leave nothing a re-run cannot finish."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import psutil
import pytest

from searchr3.index.sharing import CLIENTS
from tests.docs import write_corpus

CHUNKING = ("--chunk-tokens", "48", "--overlap", "0")


def _folder(root: Path) -> Path:
    """Every format, a corrupt PDF, an empty file, and long files (chunks to be killed among)."""
    docs = root / "docs"
    write_corpus(docs)
    (docs / "broken.pdf").write_bytes(b"%PDF-1.4 this is not a pdf")
    (docs / "empty.txt").write_text("")
    for f in range(3):
        (docs / f"long{f}.txt").write_text("\n\n".join(
            f"Log {f}, entry {p}: the harbour crane number {p} lifted container {f * 100 + p} at dawn."
            for p in range(60)
        ))
    return docs


def _ingest(*args: object, ray: bool) -> subprocess.CompletedProcess:
    extra = ["--ray", "--ray-workers", "1"] if ray else []
    return subprocess.run([sys.executable, "-m", "ingest", *map(str, args), *CHUNKING, *extra, "--json"],
                          capture_output=True, text=True, timeout=600)


def _start(docs: Path, db: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "ingest", str(docs), "--db", str(db), *CHUNKING, "--ray", "--ray-workers", "1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )


def _stored(db: Path) -> dict[str, tuple[np.ndarray, str]]:
    with CLIENTS.reading(db) as d:
        got = d.client.get_collection("documents").get(include=["embeddings", "metadatas"])
    return {cid: (np.asarray(v), m["source"]) for cid, v, m in zip(got["ids"], got["embeddings"], got["metadatas"])}


def _embed_worker(run: subprocess.Popen, timeout: float = 180) -> psutil.Process:
    """The Ray actor process that embeds for ``run`` (a descendant of its driver, so never another
    run's worker still shutting down), once it is up."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for proc in psutil.Process(run.pid).children(recursive=True):
            try:
                if "EmbedWorker" in " ".join(proc.cmdline()):
                    return proc
            except psutil.NoSuchProcess:
                continue
        time.sleep(0.2)
    raise AssertionError("no embedding actor appeared")


def _same_index(got: dict, want: dict) -> None:
    assert sorted(got) == sorted(want)  # same content-derived ids: nothing missing, nothing extra
    cos = [float(got[c][0] @ want[c][0]) for c in want]
    assert min(cos) > 0.999, min(cos)
    assert all(got[c][1] == want[c][1] for c in want)


@pytest.fixture(scope="module")
def local(tmp_path_factory):
    """The folder and the index a local run makes of it."""
    root = tmp_path_factory.mktemp("ray")
    docs = _folder(root)
    out = _ingest(docs, "--db", root / "local", ray=False)
    assert out.returncode == 1, out.stderr  # the two bad files fail, the rest is indexed
    return docs, json.loads(out.stdout), _stored(root / "local")


@pytest.mark.model
def test_ray_run_equals_a_local_run(tmp_path, local):
    docs, summary, want = local
    out = _ingest(docs, "--db", tmp_path / "db", ray=True)
    assert out.returncode == 1, out.stderr
    got = json.loads(out.stdout)
    for key in ("files_seen", "files_indexed", "files_failed", "chunks_added", "chunks_total"):
        assert got[key] == summary[key], key
    assert sorted(f["path"] for f in got["failures"]) == sorted(f["path"] for f in summary["failures"])
    assert "broken.pdf" in out.stderr and "empty.txt" in out.stderr
    _same_index(_stored(tmp_path / "db"), want)
    # again: every good file unchanged, nothing written
    again = json.loads(_ingest(docs, "--db", tmp_path / "db", ray=True).stdout)
    unchanged = (again["files_unchanged"], again["chunks_added"], again["chunks_removed"])
    assert unchanged == (summary["files_indexed"], 0, 0)
    # a changed file is replaced and its stale chunks go (then the file is put back as it was)
    long1 = docs / "long1.txt"
    original = long1.read_text()
    before = _stored(tmp_path / "db")
    long1.write_text("Log 1 was rewritten: only the crane number 7 remains.")
    try:
        changed = json.loads(_ingest(docs, "--db", tmp_path / "db", ray=True).stdout)
    finally:
        long1.write_text(original)
    after = _stored(tmp_path / "db")
    old = {c for c, (_, src) in before.items() if src == str(long1)}
    new = {c for c, (_, src) in after.items() if src == str(long1)}
    assert (changed["files_indexed"], changed["files_unchanged"]) == (1, summary["files_indexed"] - 1)
    assert (changed["chunks_added"], changed["chunks_removed"]) == (1, len(old)) and len(new) == 1
    assert set(after) == (set(before) - old) | new


@pytest.mark.model
def test_a_killed_worker_and_a_killed_driver_leave_no_duplicates(tmp_path, local):
    docs, summary, want = local
    db = tmp_path / "db"
    # a worker killed mid-run: Ray restarts the actor and retries its batch
    run = _start(docs, db)
    worker = _embed_worker(run)
    time.sleep(4)
    worker.kill()
    assert run.wait(timeout=600) == 1  # finished: only the two bad files failed
    # a driver killed mid-run (with its local Ray): the next run finishes the job
    db2 = tmp_path / "db2"
    run = _start(docs, db2)
    _embed_worker(run)
    time.sleep(6)
    os.killpg(run.pid, signal.SIGKILL)
    run.wait()
    for target in (db, db2):
        out = _ingest(docs, "--db", target, ray=True)
        assert out.returncode == 1, out.stderr
        done = json.loads(out.stdout)
        assert done["files_indexed"] + done["files_unchanged"] == summary["files_indexed"]
        assert done["chunks_total"] == len(want)
        _same_index(_stored(target), want)


@pytest.mark.tiny  # starts a process
def test_a_plain_run_never_imports_ray():
    code = ("import sys, searchr3, searchr3.ingestion.pipeline, ingest.__main__, app.__main__; "
            "print('ray' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "False", out.stderr


@pytest.mark.tiny  # starts a process
def test_ray_options_are_checked_in_one_line(tmp_path):
    out = subprocess.run([sys.executable, "-m", "ingest", str(tmp_path), "--ray", "--watch"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and out.stderr.strip() == "error: --ray indexes a folder once; --watch runs locally"


@pytest.mark.model
def test_an_unreachable_cluster_is_one_line(tmp_path):
    (tmp_path / "a.txt").write_text("some text")
    out = subprocess.run([sys.executable, "-m", "ingest", str(tmp_path), "--db", str(tmp_path / "db"),
                          "--ray", "127.0.0.1:1"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 2
    assert out.stderr.strip().startswith("error: cannot reach the Ray cluster at 127.0.0.1:1:")
    assert len(out.stderr.strip().splitlines()) == 1, out.stderr
