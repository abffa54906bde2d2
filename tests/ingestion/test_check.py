"""`python -m ingest --check / --repair` on indexes damaged on purpose."""

from __future__ import annotations

import numpy as np
import pytest

from tests.index_tools import check, delete_rows, indexed_folder, ingest, stored_vectors, wipe_vectors

LONG = "\n\n".join(
    f"Section {i}. The lighthouse keeper's log for week {i} records storms, repairs to the lamp and "
    f"supply boats. " * 6 for i in range(8)
)
FILES = {
    "long.txt": LONG,
    "rock.txt": "Basalt forms when lava rich in iron and magnesium cools quickly at the surface.",
    "tea.txt": "Green tea is steamed or pan-fired soon after picking, which stops oxidation.",
}

pytestmark = pytest.mark.tiny  # processes over the tiny model


@pytest.fixture
def indexed(tmp_path):
    return indexed_folder(tmp_path, FILES)


def test_a_sound_index_passes(indexed):
    docs, db = indexed
    rc, report = check(str(docs), "--db", str(db))
    assert rc == 0 and report["ok"] and report["files"] == 3 and report["chunks"] > 3 and not report["problems"]


def test_chunks_lost_from_the_metadata_store_are_found_and_restored(indexed):
    docs, db = indexed
    _, before = check(str(docs), "--db", str(db))
    assert delete_rows(db, "long.txt", keep=2) > 0  # part of one file
    assert delete_rows(db, "tea.txt") == 1  # all of another
    rc, report = check(str(docs), "--db", str(db))
    assert rc == 1 and not report["ok"]
    assert {(p["kind"], p["source"].rsplit("/", 1)[-1]) for p in report["problems"]} == {
        ("incomplete_file", "long.txt"), ("not_indexed", "tea.txt")}
    repaired = ingest("--repair", str(docs), "--db", str(db))
    assert repaired.returncode == 0, repaired.stderr
    rc, after = check(str(docs), "--db", str(db))
    assert rc == 0 and after["chunks"] == before["chunks"] and after["files"] == 3


def test_a_lost_vector_segment_is_rebuilt_with_the_same_vectors(indexed):
    docs, db = indexed
    want = stored_vectors(db)
    wipe_vectors(db)
    rc, report = check("--db", str(db))  # no folder: the index alone
    assert rc == 1 and [p["kind"] for p in report["problems"]] == ["unreadable_vectors"]
    assert ingest("--repair", "--db", str(db)).returncode == 0
    rc, after = check(str(docs), "--db", str(db))
    assert rc == 0 and after["chunks"] == len(want)
    got = stored_vectors(db)
    assert set(got) == set(want)
    for cid, vector in want.items():  # re-embedded from the stored text: nothing lost
        np.testing.assert_allclose(got[cid], vector, atol=1e-5)


def test_orphans_and_stale_files(indexed):
    docs, db = indexed
    (docs / "rock.txt").unlink()
    (docs / "tea.txt").write_text("Black tea is fully oxidised before it is dried.")
    rc, report = check(str(docs), "--db", str(db))
    assert rc == 1 and [p["kind"] for p in report["problems"]] == ["orphaned"]
    assert [p["kind"] for p in report["notices"]] == ["stale"]  # a normal run updates it: not damage
    assert ingest("--repair", str(docs), "--db", str(db)).returncode == 0
    rc, after = check(str(docs), "--db", str(db))
    assert rc == 0 and after["files"] == 2


def test_bad_targets_are_one_line(tmp_path):
    out = ingest("--check", "--db", str(tmp_path / "nothing"))
    assert out.returncode == 2 and out.stderr.strip().startswith("error: no collection 'documents'")
    assert len(out.stderr.strip().splitlines()) == 1
    out = ingest("--db", str(tmp_path / "nothing"))
    assert out.returncode == 2 and "name the files or folders" in out.stderr
