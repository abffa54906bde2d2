"""Checking an index against itself and its files, and repairing what can be repaired.

What is checked (``python -m ingest --check [DIR]``):

- every chunk in the metadata store can be found in the vector segment (a query restricted to
  its id finds it), and the vector segment can be read at all;
- per file: all chunks carry one file hash and their number equals the count they record; a
  file still on disk with that hash yields exactly the stored chunk ids when chunked again;
- orphans: chunks of files that no longer exist;
- under ``DIR``: supported files with no chunks at all;
- BM25: the saved index covers exactly the stored chunks.

A file changed on disk since it was indexed is reported as *stale* (a normal run updates it),
not as damage. :func:`repair` fixes every problem it can with what a re-ingest would keep:
vectors are re-embedded from the stored text, damaged files re-ingested, orphans dropped.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path

from searchr3.index.bm25 import LexicalIndex, chunk_digest, lexical_dir
from searchr3.ingestion.loaders import LoadError, load
from searchr3.ingestion.pipeline import Ingestor, Silent, Summary, chunk_ids, collect_files, stored_chunk_vectors

DAMAGE = ("unreadable_vectors", "missing_vectors", "incomplete_file", "orphaned", "not_indexed")


@dataclass
class Problem:
    """One finding: its kind, the file it concerns (if any), the chunk ids involved, and why."""

    kind: str
    source: str | None
    ids: list[str]
    detail: str


@dataclass
class Report:
    """What :func:`check` found; ``ok`` when nothing is damaged (stale files and an out-of-step
    BM25 index are notices: normal runs and searches bring them in step)."""

    location: str
    fingerprint: str
    chunks: int = 0
    files: int = 0
    problems: list[Problem] = field(default_factory=list)
    notices: list[Problem] = field(default_factory=list)
    repaired: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = defaultdict(int)
        for p in self.problems + self.notices:
            out[p.kind] += 1
        return dict(out)

    def as_dict(self) -> dict:
        return {**asdict(self), "ok": self.ok, "counts": self.counts()}


def _file_sha(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def check(ingestor: Ingestor, folders: list[Path] | None = None) -> Report:
    """Check ``ingestor``'s index (and, with ``folders``, which of their files it lacks)."""
    index = ingestor.index
    report = Report(index.location.label, index.fingerprint)
    metas = {cid: meta or {} for cid, _, meta in index.iter_all(include_text=False)}
    report.chunks = len(metas)
    by_source: dict[str, dict[str, dict]] = defaultdict(dict)
    for cid, meta in metas.items():
        by_source[meta.get("source", "")][cid] = meta
    report.files = len(by_source)

    try:
        missing = index.missing_vectors(list(metas))
    except Exception as exc:  # noqa: BLE001 (Chroma raises assorted errors for a damaged segment)
        detail = " ".join(str(exc).split())[:200]
        report.problems.append(Problem("unreadable_vectors", None, list(metas), f"vector search fails: {detail}"))
        missing = []
    for source, ids in _group(missing, metas).items():
        report.problems.append(Problem("missing_vectors", source, ids, f"{len(ids)} chunks not in the vector segment"))

    for source, chunks in sorted(by_source.items()):
        _check_file(ingestor, source, chunks, report)

    if folders:
        files, _ = collect_files(folders)
        for path in files:
            if str(path) not in by_source:
                report.problems.append(Problem("not_indexed", str(path), [], "supported file with no chunks"))

    saved = LexicalIndex.load(lexical_dir(index.location))
    if saved is None or saved.digest != chunk_digest(index):
        report.notices.append(Problem("bm25_out_of_step", None, [], "the saved BM25 index is rebuilt on next use"))
    return report


def _group(ids: list[str], metas: dict[str, dict]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = defaultdict(list)
    for cid in ids:
        out[metas[cid].get("source", "")].append(cid)
    return out


def _check_file(ingestor: Ingestor, source: str, chunks: dict[str, dict], report: Report) -> None:
    path = Path(source)
    ids = sorted(chunks)
    if not path.exists():
        report.problems.append(Problem("orphaned", source, ids, "the file no longer exists"))
        return
    shas = {m.get("file_sha") for m in chunks.values()}
    counts = {m.get("n_chunks") for m in chunks.values()}
    if len(shas) != 1 or counts != {len(chunks)}:
        detail = f"{len(chunks)} chunks stored, recorded counts {sorted(map(str, counts))}, {len(shas)} file hashes"
        report.problems.append(Problem("incomplete_file", source, ids, detail))
        return
    if _file_sha(path) != next(iter(shas)):
        report.notices.append(Problem("stale", source, ids, "changed since it was indexed; run ingest to update"))
        return
    try:
        expected = chunk_ids(source, ingestor.chunker.chunk(load(path)))
    except LoadError as exc:
        report.notices.append(Problem("unreadable_file", source, ids, str(exc)))
        return
    if set(expected) != set(chunks):
        detail = f"{len(chunks)} chunks stored, the file yields {len(expected)} (other ids)"
        report.problems.append(Problem("incomplete_file", source, ids, detail))


def _reembed(ingestor: Ingestor, ids: list[str]) -> None:
    index = ingestor.index
    stored = index.get(ids)
    present = [i for i in ids if i in stored]
    for start in range(0, len(present), 32):
        group = present[start : start + 32]
        vectors = stored_chunk_vectors(ingestor.embedder, [stored[i] for i in group])
        index.upsert(group, vectors, [stored[i][0] for i in group], [stored[i][1] for i in group])


def repair(ingestor: Ingestor, report: Report, folders: list[Path] | None = None) -> Report:
    """Fix what ``report`` found (under the index's writer lock), then check again."""
    index = ingestor.index
    with ingestor.writing():
        done = []
        for p in report.problems:
            if p.kind == "unreadable_vectors":
                index.rebuild_vector_segment(lambda stored: stored_chunk_vectors(ingestor.embedder, stored))
                done.append(f"rebuilt the vector segment ({len(p.ids)} chunks re-embedded)")
            elif p.kind == "missing_vectors":
                _reembed(ingestor, p.ids)
                done.append(f"re-embedded {len(p.ids)} chunks of {p.source}")
        for p in report.problems:
            if p.kind == "orphaned":
                index.delete(p.ids)
                done.append(f"dropped {len(p.ids)} chunks of deleted {p.source}")
            elif p.kind in ("incomplete_file", "not_indexed"):
                index.delete(p.ids)
                result = ingestor.store(ingestor.prepare(Path(p.source)), Summary(), Silent())
                done.append(f"re-ingested {p.source} ({result.status})")
        LexicalIndex.in_step_with(index)
    after = check(ingestor, folders)
    after.repaired = done
    return after
