"""Two processes, one index: a running app sees what `ingest` adds or removes; one writer at a time."""

from __future__ import annotations

import subprocess
import sys
import uuid

import httpx
import pytest

from searchr3.errors import IndexBusyError
from searchr3.index.sharing import sole_writer
from searchr3.index.vectors import IndexLocation
from searchr3.serving.api import create_api
from searchr3.serving.service import ChatService
from tests.api_server import running
from tests.index_tools import MODEL, app, check, ingest, sources

ROCK = "Basalt forms when lava rich in iron and magnesium cools quickly at the surface."
ZORBLAX = "The zorblax, a brass calculating drum, was invented by Mirela Quenby in Lyon in 1931."
QUESTION = "Who invented the zorblax calculating drum?"


def _fresh_view(tmp_path, index_args: list[str]) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "rock.txt").write_text(ROCK)
    assert ingest(str(docs), *index_args).returncode == 0
    with app(*index_args) as api:
        assert sources(api, QUESTION, hybrid=False) == ["rock.txt"]  # the app has served a question: its view is open
        (docs / "zorblax.txt").write_text(ZORBLAX)
        assert ingest(str(docs), *index_args).returncode == 0  # another process adds a file
        assert sources(api, QUESTION, hybrid=False)[0] == "zorblax.txt"
        assert sources(api, QUESTION)[0] == "zorblax.txt"  # hybrid (the default): BM25 follows too
        (docs / "zorblax.txt").unlink()
        assert ingest(str(docs), "--prune", *index_args).returncode == 0  # ... and removes it
        assert sources(api, QUESTION, hybrid=False) == ["rock.txt"]
        assert sources(api, QUESTION) == ["rock.txt"]


@pytest.mark.tiny
def test_running_app_sees_what_another_process_ingests(tmp_path):
    _fresh_view(tmp_path, ["--db", str(tmp_path / "db")])


@pytest.mark.tiny
def test_the_same_on_a_chroma_server(tmp_path, chroma_server):
    _fresh_view(tmp_path, ["--chroma-host", "127.0.0.1", "--chroma-port", str(chroma_server),
                           "--collection", f"fresh-{uuid.uuid4().hex[:8]}"])


def test_a_second_writer_is_refused_with_one_line(tmp_path, tiny):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "rock.txt").write_text(ROCK)
    db = tmp_path / "db"
    assert ingest(str(docs), "--db", str(db)).returncode == 0
    service = ChatService(tiny, IndexLocation.embedded(db))
    with sole_writer(db, "a test holding the lock"):
        refused = ingest(str(docs), "--db", str(db))
        assert refused.returncode == 2
        (line,) = refused.stderr.strip().splitlines()
        assert line.startswith(f"error: the index at {db} is being written by pid ") and "a test holding" in line
        with pytest.raises(IndexBusyError):  # the app's upload path, in process
            service.upload([docs / "rock.txt"], "documents")
        with running(create_api(service)) as url:
            r = httpx.post(f"{url}/v1/collections/documents/files", files=[("files", ("z.txt", b"zorblax"))])
            assert r.status_code == 409 and r.json()["error"]["code"] == "index_busy"
    assert ingest(str(docs), "--db", str(db)).returncode == 0  # free again
    assert service.upload([docs / "rock.txt"], "documents").files_indexed == 1  # the app may write again


@pytest.mark.tiny
def test_two_writers_at_once_both_succeed_or_one_is_refused(tmp_path):
    db = tmp_path / "db"
    folders = []
    for name in ("a", "b"):
        folder = tmp_path / name
        folder.mkdir()
        for i in range(12):
            (folder / f"{name}{i}.txt").write_text(f"Note {i} of folder {name}: {ROCK} Item {name}-{i}.")
        folders.append(folder)
    procs = [subprocess.Popen([sys.executable, "-m", "ingest", str(f), "--db", str(db), *MODEL],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for f in folders]
    results = [(p.wait(timeout=600), p.stderr.read()) for p in procs]
    assert 0 in [rc for rc, _ in results]
    for (rc, err), folder in zip(results, folders):
        assert rc in (0, 2), err
        if rc == 2:  # refused: one line, nothing written; run again when the other is done
            assert len(err.strip().splitlines()) == 1 and "is being written by pid" in err
            assert ingest(str(folder), "--db", str(db)).returncode == 0
    rc, report = check(*map(str, folders), "--db", str(db))
    assert rc == 0 and report["ok"] and report["chunks"] == 24 and report["files"] == 24, report


def test_a_long_lived_retriever_follows_another_process(tmp_path, tiny):
    from searchr3 import SearchR3Retriever

    docs, db = tmp_path / "docs", tmp_path / "db"
    docs.mkdir()
    (docs / "rock.txt").write_text(ROCK)
    assert ingest(str(docs), "--db", str(db)).returncode == 0
    retriever = SearchR3Retriever.load(db, embedder=tiny, k=2)
    assert [d.metadata["file_name"] for d in retriever.invoke(QUESTION, hybrid=False)] == ["rock.txt"]
    (docs / "zorblax.txt").write_text(ZORBLAX)
    assert ingest(str(docs), "--db", str(db)).returncode == 0
    assert retriever.invoke(QUESTION, hybrid=False)[0].metadata["file_name"] == "zorblax.txt"
    top = retriever.invoke(QUESTION)[0]
    assert top.metadata["file_name"] == "zorblax.txt" and top.metadata["bm25_score"] > 0  # BM25 followed too
