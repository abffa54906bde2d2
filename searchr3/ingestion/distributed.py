"""Ingestion on a Ray cluster (``python -m ingest DIR --ray [ADDRESS]``; ``pip install searchr3[ray]``).

Ray Data spreads the work: tasks read, hash and chunk files (the chunker's tokenizer travels
with them, so parse nodes need no model files), and a pool of actors embeds the chunks, each
holding the model once (and a GPU when the cluster has them). Only the driver touches the
index, with the guarantees of a local run: chunk ids come from content, a file whose stored
chunks are one complete current copy is skipped, new chunks are upserted before a changed
file's stale ones are removed, and a killed run (driver or worker) is finished by the next
one without duplicates. Ray is imported only here, and only when a run asks for it.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from searchr3.config import ModelConfig
from searchr3.errors import SearchR3Error
from searchr3.ingestion.chunking import Chunker
from searchr3.ingestion.pipeline import (
    EMBED_GROUP,
    FileResult,
    Ingestor,
    Progress,
    Silent,
    Summary,
    collect_files,
    planned,
    prepare_file,
)

GPU_BATCH = 256  # chunks a GPU actor embeds at once
BLOCK_BYTES = 96 * 1024  # ~32 chunk rows (text, embedding text, metadata)


class RayUnavailableError(SearchR3Error):
    """Ray is not installed, or the cluster cannot be reached."""


class RayRunError(SearchR3Error):
    """The cluster gave up on the run (what was stored stays; the next run finishes the job)."""


@dataclass(frozen=True)
class RayCluster:
    """Where and how wide to run: ``address`` (``None``: start a local Ray instance),
    ``workers`` embedding actors (``None``: one per GPU, else one per two CPUs), ``cpus``
    each actor reserves (its torch threads), ``local_cpus`` a local instance gets."""

    address: str | None = None
    workers: int | None = None
    cpus: float = 1.0
    local_cpus: int | None = None


def connect(cluster: RayCluster):
    """Start or join Ray quietly; return the ``ray`` module.

    Raises :class:`RayUnavailableError` (one line) when Ray is missing or unreachable.
    """
    try:
        import ray
        import ray.data
    except ImportError as exc:
        raise RayUnavailableError("--ray needs Ray: pip install 'searchr3[ray]'") from exc
    logging.getLogger("ray.data").setLevel(logging.ERROR)
    if not ray.is_initialized():
        quiet = dict(include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
        try:
            if cluster.address in (None, "local"):
                ray.init(num_cpus=cluster.local_cpus or os.cpu_count(), **quiet)
            else:
                _check_reachable(cluster.address)
                ray.init(address=cluster.address, **quiet)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise RayUnavailableError(f"cannot reach the Ray cluster at {cluster.address}: {exc}") from exc
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    context.enable_auto_log_stats = False
    context.verbose_stats_logs = False
    # blocks of about one embedding batch of chunks, so a large file is shared among the actors
    context.target_max_block_size = BLOCK_BYTES
    return ray


def _check_reachable(address: str, timeout: float = 5.0) -> None:
    """Fail in seconds, not minutes, when a ``host:port`` (or ``ray://host:port``) does not answer."""
    import socket

    hostport = address.removeprefix("ray://")
    host, sep, port = hostport.rpartition(":")
    if not sep or not port.isdigit():
        return  # "auto" and the like: Ray finds the cluster itself
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as exc:
        raise RayUnavailableError(f"cannot reach the Ray cluster at {address}: {exc.strerror or exc}") from exc


_ROW = dict(source="", status="", error="", chunk_id="", text="", embedding_text="", meta="", embed=False,
            n_chunks=0, seconds_parse=0.0)


def parse_rows(item: dict, chunker: Chunker) -> list[dict]:
    """One file → rows: one per chunk (``status="chunk"``, ``embed`` when its vector is not
    stored yet), or a single ``unchanged`` / ``failed`` / ``empty`` row. Runs in a Ray task."""
    stored = json.loads(item["stored"])
    prepared = prepare_file(Path(item["path"]), chunker, lambda _source: stored)
    source = str(prepared.path)
    if prepared.result is not None:
        return [{**_ROW, "source": source, "status": prepared.result.status, "error": prepared.result.error or "",
                 "seconds_parse": prepared.seconds_parse}]
    if not prepared.chunks:
        return [{**_ROW, "source": source, "status": "empty", "seconds_parse": prepared.seconds_parse}]
    ids, metas = planned(prepared)
    n = len(ids)
    return [
        {**_ROW, "source": source, "status": "chunk", "chunk_id": cid, "text": chunk.text,
         "embedding_text": chunk.embedding_text, "meta": json.dumps(meta), "embed": cid not in stored,
         "n_chunks": n, "seconds_parse": prepared.seconds_parse if i == 0 else 0.0}
        for i, (cid, chunk, meta) in enumerate(zip(ids, prepared.chunks, metas))
    ]


class EmbedWorker:
    """A Ray actor that holds the model ``config`` names once and adds a ``vector`` column
    (zeros where a row needs none) and its share of the embedding time."""

    config: ModelConfig = ModelConfig()

    def __init__(self):
        from searchr3.embedding.embedder import Embedder

        self.embedder = Embedder.load(self.config)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        n = len(batch["embed"])
        todo = np.flatnonzero(batch["embed"])
        vectors = np.zeros((n, self.embedder.dim), dtype=np.float32)
        t0 = time.perf_counter()
        if len(todo):
            vectors[todo] = self.embedder.embed_documents([str(batch["embedding_text"][i]) for i in todo])
        batch["vector"] = vectors
        batch["seconds_embed"] = np.full(n, (time.perf_counter() - t0) / max(n, 1))
        return batch


@dataclass
class _Open:
    """A changed file whose chunks are arriving."""

    n_chunks: int
    received: set[str] = field(default_factory=set)
    added: int = 0


class RayIngestor(Ingestor):
    """An :class:`Ingestor` whose parsing and embedding run on a Ray cluster.

    ``embedder`` is the driver's model: its tokenizer chunks, its fingerprint and width guard
    the index; ``config`` is what each actor loads (the same model, by construction).
    """

    def __init__(self, embedder, index, config: ModelConfig, cluster: RayCluster | None = None,
                 chunk_tokens: int = 256, overlap: int = 32):
        super().__init__(embedder, index, chunk_tokens, overlap)
        self.config = config
        self.cluster = cluster or RayCluster()

    def _stored(self, files: list[Path]) -> dict[str, dict[str, dict]]:
        """``{source: {id: metadata}}`` of the chunks stored for ``files``, in one pass."""
        wanted = {str(p) for p in files}
        stored: dict[str, dict[str, dict]] = {}
        for cid, _, meta in self.index.iter_all(include_text=False):
            source = meta.get("source", "")
            if source in wanted:
                stored.setdefault(source, {})[cid] = {k: meta.get(k) for k in ("file_sha", "n_chunks")}
        return stored

    def _dataset(self, ray, files: list[Path], stored: dict[str, dict[str, dict]]):
        resources = ray.cluster_resources()
        gpus = int(resources.get("GPU", 0))
        cpus = int(resources.get("CPU", 1))
        workers = self.cluster.workers or gpus or max(1, cpus // 2)
        items = [{"path": str(p), "stored": json.dumps(stored.get(str(p), {}))} for p in files]
        ds = ray.data.from_items(items, override_num_blocks=max(1, min(len(items), 4096)))
        # parse tasks reserve no CPU (they are light and must never wait behind the actors)
        parse = ray.data.TaskPoolStrategy(size=max(1, cpus))
        ds = ds.flat_map(parse_rows, fn_args=(self.chunker,), num_cpus=0, compute=parse)
        config = self.config if self.config.threads else replace(self.config, threads=max(1, int(self.cluster.cpus)))
        # the configuration rides on the class, so a restarted actor needs nothing from the object store
        worker = type("EmbedWorker", (EmbedWorker,), {"config": config})
        return ds.map_batches(
            worker, batch_size=GPU_BATCH if gpus else EMBED_GROUP, batch_format="numpy",
            compute=ray.data.ActorPoolStrategy(size=workers), num_cpus=self.cluster.cpus, num_gpus=1 if gpus else 0,
        )

    def _run(self, paths: Iterable[str | Path], prune: bool, progress: Progress | None) -> Summary:
        progress = progress or Silent()
        started = time.perf_counter()
        files, skipped = collect_files(paths)
        summary = Summary.of(files, skipped)
        ray = connect(self.cluster) if files else None
        progress.start(len(files))
        try:
            if ray is not None:
                t0 = time.perf_counter()
                stored = self._stored(files)
                summary.seconds_store += time.perf_counter() - t0
                self._consume(ray, files, stored, summary, progress)
            if prune:
                summary.chunks_removed += self._prune()
        finally:
            self._finish(summary, started)
        return summary

    def _consume(self, ray, files, stored, summary: Summary, progress: Progress) -> None:
        ds = self._dataset(ray, files, stored)
        open_files: dict[str, _Open] = {}
        done: set[str] = set()

        def finish(result: FileResult) -> None:
            summary.count(result)
            done.add(result.path)
            progress.file_done(result)

        batches = iter(ds.iter_batches(batch_size=None, batch_format="numpy"))
        while True:
            t0 = time.perf_counter()
            try:
                batch = next(batches, None)
            except ray.exceptions.RayError as exc:
                first = next((line for line in str(exc).splitlines() if line.strip()), type(exc).__name__)
                again = "run the same command again to finish"
                raise RayRunError(f"the Ray run failed ({first.strip()}); {again}") from exc
            summary.seconds_waiting += time.perf_counter() - t0
            if batch is None:
                break
            summary.seconds_parse += float(np.sum(batch["seconds_parse"]))
            summary.seconds_embed += float(np.sum(batch["seconds_embed"]))
            t0 = time.perf_counter()
            rows = range(len(batch["source"]))
            for i in rows:
                status, source = str(batch["status"][i]), str(batch["source"][i])
                if status in ("unchanged", "failed"):
                    finish(FileResult(source, status, error=str(batch["error"][i]) or None))
                elif status == "empty":  # nothing to embed; what an earlier version stored goes
                    removed = sorted(stored.get(source, {}))
                    self.index.delete(removed)
                    finish(FileResult(source, "indexed", chunks_removed=len(removed)))
                elif source not in open_files:
                    open_files[source] = _Open(int(batch["n_chunks"][i]))
                    progress.file_started(Path(source), open_files[source].n_chunks)
            chunk = [i for i in rows if batch["status"][i] == "chunk"]
            new = [i for i in chunk if batch["embed"][i]]
            kept = [i for i in chunk if not batch["embed"][i]]
            if new:
                self.index.upsert([str(batch["chunk_id"][i]) for i in new], batch["vector"][new],
                                  [str(batch["text"][i]) for i in new], [json.loads(batch["meta"][i]) for i in new])
            if kept:
                self.index.update_metadata([str(batch["chunk_id"][i]) for i in kept],
                                           [json.loads(batch["meta"][i]) for i in kept])
            for i in chunk:
                state = open_files[str(batch["source"][i])]
                state.received.add(str(batch["chunk_id"][i]))
                state.added += int(bool(batch["embed"][i]))
            progress.chunks_done(len(chunk))
            for source in {str(batch["source"][i]) for i in chunk}:
                state = open_files[source]
                if len(state.received) == state.n_chunks:  # the whole file is in: its stale chunks go
                    stale = sorted(set(stored.get(source, {})) - state.received)
                    self.index.delete(stale)
                    del open_files[source]
                    finish(FileResult(source, "indexed", chunks_added=state.added, chunks_removed=len(stale)))
            summary.seconds_store += time.perf_counter() - t0
        for source in sorted(set(map(str, files)) - done):  # never came back whole: the next run redoes it
            finish(FileResult(source, "failed", error="incomplete: not every chunk came back from the cluster"))
