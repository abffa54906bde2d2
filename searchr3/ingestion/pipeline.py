"""Incremental ingestion: files → sections → chunks → vectors → the index.

The index itself is the record of what was ingested: every chunk carries its source path,
the SHA-256 of the file it came from, and how many chunks that file has. A file is
unchanged when all its chunks carry its current hash and their number is complete, so an
interrupted run (Ctrl-C, kill) is finished by the next one: chunk ids come from content,
new chunks are upserted before stale ones are removed, and nothing is ever duplicated.
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from searchr3.index.bm25 import LexicalIndex, ids_digest
from searchr3.index.sharing import process_label, sole_writer
from searchr3.index.vectors import VectorIndex
from searchr3.ingestion.chunking import Chunk, Chunker
from searchr3.ingestion.loaders import LoadError, is_supported, load, load_noting

if TYPE_CHECKING:  # pragma: no cover
    from searchr3.embedding.embedder import Embedder

EMBED_GROUP = 32  # chunks embedded and stored together (the unit of lost work on a kill)
PREFETCH = 2  # files read, checked and chunked ahead while the model embeds


@dataclass
class Prepared:
    """A file read, hashed, checked against the index and (when it changed) chunked."""

    path: Path
    seconds_check: float
    seconds_parse: float = 0.0
    result: FileResult | None = None  # set when there is nothing to embed (unchanged, failed)
    file_sha: str = ""
    existing: dict[str, dict] = field(default_factory=dict)
    chunks: list[Chunk] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # what the parser read past


@dataclass
class FileResult:
    """What happened to one file."""

    path: str
    status: str  # "indexed", "unchanged", "failed"
    chunks_added: int = 0
    chunks_removed: int = 0
    error: str | None = None
    warnings: list[str] = field(default_factory=list)


@dataclass
class Summary:
    """Totals of one ingestion run (``--json`` prints this)."""

    files_seen: int = 0
    files_indexed: int = 0
    files_unchanged: int = 0
    files_failed: int = 0
    files_skipped: int = 0
    chunks_added: int = 0
    chunks_removed: int = 0
    chunks_total: int = 0
    seconds: float = 0.0
    seconds_parse: float = 0.0
    seconds_embed: float = 0.0
    seconds_store: float = 0.0
    seconds_waiting: float = 0.0  # the model idle, waiting for the next file to be parsed
    failures: list[dict] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    parser_warnings: int = 0  # problems the parsers read past, in
    files_with_warnings: int = 0
    first_warning: str | None = None  # "path: message"

    @classmethod
    def of(cls, files: list[Path], skipped: list[Path]) -> Summary:
        """An empty tally for a run over ``files`` (``skipped``: unsupported ones)."""
        return cls(files_seen=len(files) + len(skipped), files_skipped=len(skipped), skipped=[str(p) for p in skipped])

    def count(self, result: FileResult) -> None:
        """Add one file's outcome."""
        self.chunks_added += result.chunks_added
        if result.warnings:
            self.parser_warnings += len(result.warnings)
            self.files_with_warnings += 1
            self.first_warning = self.first_warning or f"{result.path}: {result.warnings[0]}"
        self.chunks_removed += result.chunks_removed
        if result.status == "indexed":
            self.files_indexed += 1
        elif result.status == "unchanged":
            self.files_unchanged += 1
        else:
            self.files_failed += 1
            self.failures.append({"path": result.path, "error": result.error})

    def as_dict(self) -> dict:
        return asdict(self)


class Progress(Protocol):
    """What a user interface hears from a run; every method is optional to act on."""

    def start(self, files: int) -> None: ...
    def files_planned(self, files: list[Path]) -> None: ...
    def file_started(self, path: Path, chunks: int) -> None: ...
    def chunks_done(self, n: int) -> None: ...
    def file_done(self, result: FileResult) -> None: ...


class Silent(Progress):
    """A :class:`Progress` that shows nothing (the protocol's methods do nothing)."""


def collect_files(paths: Iterable[str | Path]) -> tuple[list[Path], list[Path]]:
    """``(supported, skipped)`` files under ``paths`` (directories walked, dot-files ignored).

    Raises ``FileNotFoundError`` for a path that does not exist.
    """
    supported: list[Path] = []
    skipped: list[Path] = []
    for raw in paths:
        path = Path(raw).expanduser()
        if not path.exists():
            raise FileNotFoundError(f"no such file or directory: {raw}")
        candidates: Iterator[Path]
        if path.is_dir():
            candidates = (
                p for p in sorted(path.rglob("*"))
                if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
        else:
            candidates = iter([path])
        for p in candidates:
            (supported if is_supported(p) else skipped).append(p.resolve())
    return list(dict.fromkeys(supported)), list(dict.fromkeys(skipped))


def chunk_ids(source: str, chunks: list[Chunk]) -> list[str]:
    """Stable ids from content: source, heading, text, and which repeat of that text it is."""
    seen: Counter = Counter()
    ids = []
    for c in chunks:
        key = (c.heading or "", c.text)
        seen[key] += 1
        h = hashlib.sha256(f"{source}\0{key[0]}\0{key[1]}\0{seen[key]}".encode()).hexdigest()
        ids.append(h[:32])
    return ids


def _metadata(source: str, file_sha: str, n_chunks: int, chunk: Chunk, indexed_at: str) -> dict:
    meta = {
        "source": source,
        "file_name": Path(source).name,
        "file_sha": file_sha,
        "n_chunks": n_chunks,
        "position": chunk.position,
        "indexed_at": indexed_at,
    }
    if chunk.heading:
        meta["heading"] = chunk.heading
    if chunk.path:
        meta["heading_path"] = chunk.heading_path
    if chunk.page is not None:
        meta["page"] = chunk.page
    if chunk.anchor:
        meta["anchor"] = chunk.anchor
    return meta


def is_complete(existing: dict[str, dict], file_sha: str) -> bool:
    """Whether stored chunks are exactly one full, current copy of a file."""
    return bool(existing) and all(
        m.get("file_sha") == file_sha and m.get("n_chunks") == len(existing) for m in existing.values()
    )


def prepare_file(path: Path, chunker: Chunker, stored: Callable[[str], dict[str, dict]]) -> Prepared:
    """Read and hash ``path``; if ``stored(source)`` (``{id: metadata}`` of its chunks in the
    index) is not one complete copy of it, chunk it. Failures become a ``failed`` result."""
    source = str(path)
    t0 = time.perf_counter()
    try:
        data = path.read_bytes()
    except OSError as exc:
        error = f"cannot read file ({exc.strerror or exc})"
        return Prepared(path, time.perf_counter() - t0, result=FileResult(source, "failed", error=error))
    file_sha = hashlib.sha256(data).hexdigest()
    existing = stored(source)
    t1 = time.perf_counter()
    if is_complete(existing, file_sha):
        return Prepared(path, t1 - t0, result=FileResult(source, "unchanged"))
    try:
        sections, notes = load_noting(path)
        chunks = chunker.chunk(sections)
    except LoadError as exc:  # chunks stored for an earlier version stay as they were
        failed = FileResult(source, "failed", error=str(exc))
        return Prepared(path, t1 - t0, time.perf_counter() - t1, result=failed)
    return Prepared(path, t1 - t0, time.perf_counter() - t1, None, file_sha, existing, chunks, notes)


def unchanged_run(index: VectorIndex, paths: Iterable[str | Path], prune: bool = False) -> Summary | None:
    """The summary of a run over ``paths`` that would change nothing, told from the index alone
    (no model, no tokenizer): every supported file stored as one complete current copy or one that
    fails to load (as :meth:`Ingestor.run` would report it), BM25 in step, and with ``prune`` no
    stored file gone. ``None`` when a run has work to do. Call it under the writer lock."""
    started = time.perf_counter()
    files, skipped = collect_files(paths)
    stored: dict[str, dict[str, dict]] = {}
    for chunk_id, _, meta in index.iter_all(include_text=False):
        stored.setdefault(meta.get("source", ""), {})[chunk_id] = meta
    summary = Summary.of(files, skipped)
    for path in files:
        try:
            file_sha = hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError:
            return None
        if is_complete(stored.get(str(path), {}), file_sha):
            summary.count(FileResult(str(path), "unchanged"))
            continue
        if stored.get(str(path)):
            return None  # changed since it was stored
        try:
            load(path)
        except LoadError as exc:  # never stored, and still unreadable: the run would fail it again
            summary.count(FileResult(str(path), "failed", error=str(exc)))
            continue
        return None  # a new readable file
    if prune and any(not Path(source).exists() for source in stored):
        return None
    if not LexicalIndex.is_current(index, ids_digest([i for chunks in stored.values() for i in chunks])):
        return None  # (the ids were read above: no second pass over the collection)
    summary.chunks_total = sum(len(chunks) for chunks in stored.values())
    summary.seconds = time.perf_counter() - started
    return summary


def planned(prepared: Prepared) -> tuple[list[str], list[dict]]:
    """The ids and metadata the chunks of a changed file are stored under."""
    source = str(prepared.path)
    when = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    chunks = prepared.chunks
    return chunk_ids(source, chunks), [_metadata(source, prepared.file_sha, len(chunks), c, when) for c in chunks]


def stored_chunk_vectors(embedder: Embedder, stored: list[tuple[str, dict]]):
    """Vectors of stored chunks (``(text, metadata)`` pairs), from their text and heading exactly
    as ingestion first embedded them."""
    texts = [Chunk(text, (meta or {}).get("heading"), None, 0).embedding_text for text, meta in stored]
    return embedder.embed_documents(texts)


def writer_lock(index: VectorIndex):
    """The writer lock of ``index`` for a block of writes (nothing to hold on a server)."""
    lock = index.writer_lock_path
    return sole_writer(lock, process_label()) if lock else nullcontext()


class Ingestor:
    """Indexes files into a :class:`VectorIndex` with an :class:`Embedder`."""

    def __init__(self, embedder: Embedder, index: VectorIndex, chunk_tokens: int = 256, overlap: int = 32):
        self.embedder = embedder
        self.index = index
        self.chunker = Chunker(embedder.tokenizer, chunk_tokens, overlap)

    def prepare(self, path: Path) -> Prepared:
        """Read, hash and check ``path`` against the index; chunk it if it changed.

        Touches nothing stored, so it runs in a worker thread ahead of :meth:`store`.
        """
        return prepare_file(path, self.chunker, lambda source: self.index.metadata_where({"source": source}))

    def store(self, prepared: Prepared, summary: Summary, progress: Progress) -> FileResult:
        """Embed the new chunks of a prepared file, upsert them, then drop its stale ones."""
        summary.seconds_parse += prepared.seconds_parse
        summary.seconds_store += prepared.seconds_check
        if prepared.result is not None:
            return prepared.result
        chunks, existing = prepared.chunks, prepared.existing
        ids, metas = planned(prepared)
        progress.file_started(prepared.path, len(chunks))

        new = [i for i, cid in enumerate(ids) if cid not in existing]
        for start in range(0, len(new), EMBED_GROUP):
            group = new[start : start + EMBED_GROUP]
            t0 = time.perf_counter()
            vectors = self.embedder.embed_documents([chunks[i].embedding_text for i in group])
            t1 = time.perf_counter()
            self.index.upsert(
                [ids[i] for i in group], vectors, [chunks[i].text for i in group], [metas[i] for i in group]
            )
            summary.seconds_embed += t1 - t0
            summary.seconds_store += time.perf_counter() - t1
            progress.chunks_done(len(group))
        t0 = time.perf_counter()
        kept = [i for i, cid in enumerate(ids) if cid in existing]
        if kept:
            self.index.update_metadata([ids[i] for i in kept], [metas[i] for i in kept])
            progress.chunks_done(len(kept))
        stale = sorted(set(existing) - set(ids))
        self.index.delete(stale)
        summary.seconds_store += time.perf_counter() - t0
        return FileResult(str(prepared.path), "indexed", chunks_added=len(new), chunks_removed=len(stale),
                          warnings=prepared.warnings)

    def prune(self, under: Iterable[str | Path] | None = None) -> int:
        """Remove chunks whose source file no longer exists (only those under the folders
        ``under``, when given); return how many. Holds the writer lock like :meth:`run`."""
        with self.writing():
            return self._prune(under)

    def _prune(self, under: Iterable[str | Path] | None = None) -> int:
        roots = None if under is None else [Path(u).expanduser().resolve() for u in under]

        def gone(source: str) -> bool:
            path = Path(source)
            inside = roots is None or any(path == r or r in path.parents for r in roots)
            return inside and not path.exists()

        ids = [cid for cid, _, meta in self.index.iter_all(include_text=False) if gone(meta.get("source", ""))]
        self.index.delete(ids)
        return len(ids)

    def remove(self, source: str | Path) -> int:
        """Remove every chunk of the file ``source`` (as the index names it); BM25 follows.
        Returns how many chunks went (0: the index has no such file)."""
        with self.writing():
            ids = list(self.index.metadata_where({"source": str(source)}))
            self.index.delete(ids)
            LexicalIndex.in_step_with(self.index)
        return len(ids)

    def writing(self):
        """The writer lock of the index, for a block of writes (nothing to hold on a server)."""
        return writer_lock(self.index)

    def run(self, paths: Iterable[str | Path], prune: bool = False, progress: Progress | None = None) -> Summary:
        """Ingest every supported file under ``paths``; return the totals.

        Raises ``FileNotFoundError`` (before touching the index) for a missing path, and
        :class:`~searchr3.errors.IndexBusyError` (at once, nothing written) when another process
        is writing to the same embedded index.
        """
        with self.writing():
            return self._run(paths, prune, progress)

    def _run(self, paths: Iterable[str | Path], prune: bool, progress: Progress | None) -> Summary:
        progress = progress or Silent()
        started = time.perf_counter()
        files, skipped = collect_files(paths)
        summary = Summary.of(files, skipped)
        if hasattr(progress, "files_planned"):  # sizes, for an estimate of the time left
            progress.files_planned(files)
        progress.start(len(files))
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest-prepare")
        ahead: list[Future] = [pool.submit(self.prepare, p) for p in files[:PREFETCH]]
        try:
            for i in range(len(files)):
                t0 = time.perf_counter()
                prepared = ahead.pop(0).result()
                summary.seconds_waiting += time.perf_counter() - t0
                if i + PREFETCH < len(files):
                    ahead.append(pool.submit(self.prepare, files[i + PREFETCH]))
                result = self.store(prepared, summary, progress)
                summary.count(result)
                progress.file_done(result)
            if prune:
                summary.chunks_removed += self._prune()
        finally:
            for future in ahead:
                future.cancel()
            pool.shutdown(wait=True)
            self._finish(summary, started)
        return summary

    def _finish(self, summary: Summary, started: float) -> None:
        """End of a run, however it ends: BM25 in step with the index, the totals."""
        t0 = time.perf_counter()
        LexicalIndex.in_step_with(self.index)
        summary.seconds_store += time.perf_counter() - t0
        summary.chunks_total = self.index.count()
        summary.seconds = time.perf_counter() - started
