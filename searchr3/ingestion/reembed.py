"""Re-embedding a whole index for another model (after a model or adapter change).

Vectors of different models never mix in one collection, so a collection built by an older
default refuses the new one. :func:`reembed` re-embeds every stored chunk from its stored text
into a spare collection that then takes the old one's name: until that swap the old vectors
stay whole and searchable, so an interrupted run loses nothing (the next one starts over).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

from searchr3.embedding.embedder import Embedder
from searchr3.errors import SearchR3Error
from searchr3.index.bm25 import LexicalIndex
from searchr3.index.vectors import IndexLocation, VectorIndex, stored_model
from searchr3.ingestion.pipeline import EMBED_GROUP, stored_chunk_vectors, writer_lock


@dataclass
class Reembedded:
    """What :func:`reembed` did: the chunks re-embedded, the model before and after."""

    location: str
    chunks: int
    before: str
    after: str
    seconds: float

    def as_dict(self) -> dict:
        return asdict(self)


def reembed(embedder: Embedder, location: IndexLocation,
            on_start: Callable[[int], None] | None = None,
            on_chunks: Callable[[int], None] | None = None) -> Reembedded:
    """Re-embed the collection at ``location`` with ``embedder`` (nothing to do when it already
    holds this model's vectors). ``on_start(total)`` and ``on_chunks(n)`` report progress.

    Raises :class:`~searchr3.errors.IndexNotFoundError` where there is no such collection,
    :class:`SearchR3Error` for a collection searchr3 did not make, and
    :class:`~searchr3.errors.IndexBusyError` when another process is writing to it."""
    started = time.perf_counter()
    before, dim = stored_model(location)
    if before is None:
        raise SearchR3Error(f"the collection at {location.label} records no searchr3 model; not re-embedding it")
    index = VectorIndex(location, before, dim or embedder.dim, create=False)
    n = 0
    if before != embedder.fingerprint:
        with writer_lock(index):
            if on_start is not None:
                on_start(index.count())
            n = index.reembed(lambda stored: stored_chunk_vectors(embedder, stored), embedder.fingerprint,
                              embedder.dim, EMBED_GROUP, on_chunks)
            LexicalIndex.in_step_with(index)
    return Reembedded(location.label, n, before, embedder.fingerprint, time.perf_counter() - started)
