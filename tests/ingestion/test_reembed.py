"""`python -m ingest --reembed`: an index built by another model (an older default adapter) is
refused, then re-embedded for the new one without losing anything, even when interrupted."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from searchr3.index.vectors import IndexLocation, VectorIndex, stored_model
from searchr3.ingestion.pipeline import stored_chunk_vectors
from tests.index_tools import indexed_folder, stored_vectors

FILES = {
    "rock.txt": "Basalt forms when lava rich in iron and magnesium cools quickly at the surface.",
    "tea.txt": "Green tea is steamed or pan-fired soon after picking, which stops oxidation.",
    "long.md": "# Lighthouses\n\n" + "The keeper's log records storms, repairs to the lamp and supply boats. " * 60,
}
NEW = ["--adapter", "default", "--precision", "float32"]  # the shipped default, exact arithmetic
OLD = ["--adapter", "none", "--precision", "float32"]  # the bare model: the conftest embedder's vector space

pytestmark = pytest.mark.model


def ingest_new(*args: str) -> subprocess.CompletedProcess:
    """``python -m ingest ARGS`` with the shipped adapter (the "upgraded" model)."""
    return subprocess.run([sys.executable, "-m", "ingest", *args, *NEW], capture_output=True, text=True,
                          timeout=600)


@pytest.fixture
def old_index(tmp_path):
    """A folder indexed by the bare model (adapter none): an index from before an upgrade."""
    return indexed_folder(tmp_path, FILES, model=OLD)


def test_an_old_index_is_refused_then_reembedded_as_a_fresh_ingest_would(old_index, tmp_path):
    docs, db = old_index
    before = stored_vectors(db)
    refused = ingest_new(str(docs), "--db", str(db))
    assert refused.returncode == 2
    assert refused.stderr.count("\n") == 1 and "--reembed" in refused.stderr, refused.stderr
    assert stored_vectors(db).keys() == before.keys()  # nothing written, nothing lost

    done = ingest_new("--reembed", "--db", str(db), "--json")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["chunks"] == len(before) > 3
    assert "adapter=none" in summary["before"] and "adapter=none" not in summary["after"]
    assert stored_model(IndexLocation.embedded(db))[0] == summary["after"]

    fresh = tmp_path / "fresh"
    assert ingest_new(str(docs), "--db", str(fresh)).returncode == 0
    want, got = stored_vectors(fresh), stored_vectors(db)
    assert got.keys() == want.keys() == before.keys()  # same content-derived ids
    for cid in want:  # the stored text re-embedded is what a fresh ingest embeds
        np.testing.assert_allclose(got[cid], want[cid], atol=1e-4)
        assert float(np.dot(got[cid], before[cid])) < 0.999  # and not the old vectors

    again = ingest_new(str(docs), "--db", str(db), "--json")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["files_unchanged"] == len(FILES)  # incremental from here on
    checked = ingest_new("--check", "--db", str(db), "--json")
    report = json.loads(checked.stdout)
    assert checked.returncode == 0 and report["ok"] and report["chunks"] == len(before)  # BM25 in step too

    noop = ingest_new("--reembed", "--db", str(db), "--json")
    assert noop.returncode == 0 and json.loads(noop.stdout)["chunks"] == 0


def test_an_interrupted_reembed_leaves_the_old_vectors_whole(old_index, embedder):
    _, db = old_index
    location = IndexLocation.embedded(db)
    before = stored_vectors(db)
    index = VectorIndex(location, embedder.fingerprint, embedder.dim, create=False)
    calls = []

    def embed_then_stop(stored):
        calls.append(len(stored))
        if len(calls) == 2:
            raise KeyboardInterrupt  # Ctrl-C half way
        return stored_chunk_vectors(embedder, stored)

    with pytest.raises(KeyboardInterrupt):
        index.reembed(embed_then_stop, "another-model", embedder.dim, group=2)
    assert stored_model(location) == (embedder.fingerprint, embedder.dim)
    after = stored_vectors(db)
    assert after.keys() == before.keys()
    for cid in before:
        np.testing.assert_array_equal(after[cid], before[cid])


def test_bad_reembed_requests_are_one_line(old_index, tmp_path):
    docs, db = old_index
    for args, words in [
        (("--reembed", str(docs), "--db", str(db)), "without paths"),
        (("--reembed", "--db", str(tmp_path / "nothing")), "no index"),
        (("--reembed", "--db", str(db), "--collection", "other"), "no collection 'other'"),
    ]:
        out = ingest_new(*args)
        assert out.returncode == 2 and out.stderr.count("\n") == 1 and words in out.stderr, (args, out.stderr)


def test_the_app_says_how_to_reembed_an_old_index(old_index, embedder, trained):
    from app.page import index_status
    from searchr3.serving.service import ChatService

    _, db = old_index
    upgraded = ChatService(trained, IndexLocation.embedded(db))
    message = upgraded.model_mismatch()
    assert message and "adapter=none" in message and "python -m ingest --reembed" in message
    status, usable = index_status(upgraded, "documents")  # the page's index line, instead of an error
    assert not usable and status.startswith("⚠️") and "--reembed" in status
    assert upgraded.model_mismatch("not-there") is None
    same = ChatService(embedder, IndexLocation.embedded(db))  # the model that built it
    status, usable = index_status(same, "documents")
    assert same.model_mismatch() is None and usable and status.startswith("**Index**")
    # a collection of the old model beside the new default one is offered on the page, with the way out
    beside = ChatService(trained, IndexLocation.embedded(db).with_collection("notes"))
    assert beside.collections() == ["documents", "notes"]
    status, usable = index_status(beside, "documents")
    assert not usable and "--reembed" in status and "documents" in status
