"""Helpers for tests that run ``python -m ingest`` / ``python -m app`` on one index and damage it."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import openai

from bench.net import free_port, wait_for_http
from searchr3.index.sharing import CLIENTS


def model_args() -> list[str]:
    """The command-line options of the tiny model (the conftest ``tiny`` fixture's vector space)."""
    from tests.tiny_model import tiny_model_dir

    return ["--model", str(tiny_model_dir()), "--precision", "float32"]


def __getattr__(name: str):
    """``MODEL`` (:func:`model_args`), built on first use so that collecting the unit tier builds nothing."""
    if name == "MODEL":
        return model_args()
    raise AttributeError(name)


def ingest(*args: str, timeout: float = 600, model: list[str] | None = None) -> subprocess.CompletedProcess:
    """``python -m ingest ARGS`` with the tiny model (``model``: other model options), captured."""
    model = model_args() if model is None else model
    return subprocess.run([sys.executable, "-m", "ingest", *args, *model], capture_output=True, text=True,
                          timeout=timeout)


def check(*args: str) -> tuple[int, dict]:
    """``python -m ingest --check ARGS --json``: exit status and report."""
    out = ingest("--check", "--json", *args)
    return out.returncode, (json.loads(out.stdout) if out.stdout.strip() else {"stderr": out.stderr})


@contextmanager
def app(*index_args: str):
    """``python -m app`` on an index; yields an OpenAI client for its API."""
    port = free_port()
    # quoted answers: these tests are about the index, not about who writes the answer
    command = [sys.executable, "-m", "app", *index_args, "--port", str(port), "--answer", "extract", *model_args()]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_for_http(f"http://127.0.0.1:{port}/v1/models", proc, timeout=180)
        yield openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="loopback", max_retries=0, timeout=300)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def sources(api: openai.OpenAI, question: str, **options) -> list[str]:
    """File names of the passages the app retrieves for ``question`` (best first)."""
    reply = api.chat.completions.create(model="searchr3", messages=[{"role": "user", "content": question}],
                                        max_tokens=1, extra_body=options)
    return [s["metadata"]["file_name"] for s in reply.model_extra["sources"]]


def delete_rows(db: Path, file_name: str, keep: int = 0) -> int:
    """Delete a file's chunks from the metadata store only (SQLite), keeping ``keep`` of them."""
    con = sqlite3.connect(db / "chroma.sqlite3")
    rows = [r for (r,) in con.execute(
        "SELECT id FROM embedding_metadata WHERE key = 'file_name' AND string_value = ? ORDER BY id", (file_name,))]
    for row in rows[keep:]:
        con.execute("DELETE FROM embedding_metadata WHERE id = ?", (row,))
        con.execute("DELETE FROM embeddings WHERE id = ?", (row,))
    con.commit()
    con.close()
    return len(rows) - keep


def wipe_vectors(db: Path) -> None:
    """Lose the vector segment for good: its files, and the log Chroma would rebuild it from."""
    con = sqlite3.connect(db / "chroma.sqlite3")
    con.execute("DELETE FROM embeddings_queue")
    con.commit()
    con.close()
    for segment in (d for d in db.iterdir() if d.is_dir() and d.name.count("-") == 4):
        for f in segment.iterdir():
            f.unlink()


def indexed_folder(root: Path, files: dict[str, str], model: list[str] | None = None) -> tuple[Path, Path]:
    """``files`` written into ``root/docs`` and ingested into ``root/db`` (the tiny model, or ``model``'s options)."""
    docs = root / "docs"
    docs.mkdir()
    for name, text in files.items():
        (docs / name).write_text(text)
    db = root / "db"
    out = ingest(str(docs), "--db", str(db), model=model)
    assert out.returncode == 0, out.stderr
    return docs, db


def stored_vectors(db: Path, collection: str = "documents") -> dict[str, np.ndarray]:
    """``{chunk id: vector}`` of a collection, read afresh (another process may have written)."""
    with CLIENTS.reading(db) as d:
        got = d.client.get_collection(collection).get(include=["embeddings"])
    return dict(zip(got["ids"], got["embeddings"]))
