"""The Chroma-backed vector index: the only module that talks to Chroma.

A collection records the fingerprint of the model whose vectors it holds; opening it with
another model raises :class:`FingerprintMismatchError` instead of mixing vector spaces.
Chroma runs embedded (``PersistentClient`` on a directory) or as a server (``chroma run``).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from searchr3.errors import FingerprintMismatchError, IndexNotFoundError, SearchR3Error
from searchr3.index.sharing import CLIENTS, persistent_client

DEFAULT_COLLECTION = "documents"
FINGERPRINT_KEY = "searchr3_fingerprint"
DIM_KEY = "searchr3_dim"
_PAGE = 1000


def default_db_path() -> Path:
    """The embedded index directory: ``$SEARCHR3_DB`` or ``~/.local/share/searchr3/db``."""
    if env := os.environ.get("SEARCHR3_DB"):
        return Path(env).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base).expanduser() / "searchr3" / "db"


@dataclass(frozen=True)
class IndexLocation:
    """Where an index lives: an embedded directory, or a Chroma server (host and port)."""

    path: Path | None = None
    host: str | None = None
    port: int = 8000
    collection: str = DEFAULT_COLLECTION

    @classmethod
    def embedded(cls, path: str | Path | None = None, collection: str = DEFAULT_COLLECTION) -> IndexLocation:
        """An embedded index in ``path`` (default :func:`default_db_path`)."""
        return cls(path=Path(path).expanduser() if path else default_db_path(), collection=collection)

    @classmethod
    def server(cls, host: str, port: int = 8000, collection: str = DEFAULT_COLLECTION) -> IndexLocation:
        """A collection on a Chroma server (``chroma run``)."""
        return cls(host=host, port=port, collection=collection)

    @classmethod
    def resolve(cls, db: str | Path | None = None, host: str | None = None, port: int = 8000,
                collection: str = DEFAULT_COLLECTION) -> IndexLocation:
        """The server at ``host`` when one is named, else the embedded index at ``db``."""
        return cls.server(host, port, collection) if host else cls.embedded(db, collection)

    def with_collection(self, collection: str | None) -> IndexLocation:
        """The same place, another collection (``None`` or empty: this one)."""
        return replace(self, collection=collection or self.collection)

    @property
    def label(self) -> str:
        where = f"{self.host}:{self.port}" if self.host else str(self.path)
        return f"{where} [{self.collection}]"

    def client(self):
        """A Chroma client for this location (telemetry off). For an embedded directory,
        :class:`VectorIndex` uses the process's shared client instead (:mod:`searchr3.index.sharing`)."""
        if self.path is not None:
            return persistent_client(self.path, self.label)
        import chromadb

        try:
            return chromadb.HttpClient(host=self.host, port=self.port,
                                       settings=chromadb.Settings(anonymized_telemetry=False))
        except (ValueError, OSError, RuntimeError) as exc:
            raise SearchR3Error(f"cannot open the index at {self.label}: {str(exc).splitlines()[0]}") from exc


@dataclass(frozen=True)
class Hit:
    """One search result: chunk id, text, metadata and cosine similarity."""

    id: str
    text: str
    metadata: dict
    score: float


def collection_names(location: IndexLocation, fingerprint: str | None = None) -> list[str]:
    """The searchr3 collections at ``location`` (those that record a model fingerprint; with
    ``fingerprint``, only those of that model), sorted; ``[]`` where there is no index yet."""
    if location.path is not None:
        if not location.path.exists():
            return []
        with CLIENTS.reading(location.path) as d:
            found = d.client.list_collections()
    else:
        found = location.client().list_collections()
    names = []
    for col in found:
        stored = (col.metadata or {}).get(FINGERPRINT_KEY)
        if stored is not None and (fingerprint is None or stored == fingerprint) and not col.name.endswith("-rebuild"):
            names.append(col.name)
    return sorted(names)


def stored_model(location: IndexLocation) -> tuple[str | None, int | None]:
    """The model fingerprint and vector width the collection at ``location`` records (``None``
    for a collection searchr3 did not make); raises :class:`IndexNotFoundError` where there is none."""
    from chromadb.errors import NotFoundError

    if location.path is not None and not location.path.exists():
        raise IndexNotFoundError(f"no index at {location.label}")

    def read(client):
        try:
            return client.get_collection(location.collection, embedding_function=None).metadata or {}
        except NotFoundError:
            raise IndexNotFoundError(f"no collection {location.collection!r} at {location.label}") from None

    if location.path is not None:
        with CLIENTS.reading(location.path) as d:
            metadata = read(d.client)
    else:
        metadata = read(location.client())
    dim = metadata.get(DIM_KEY)
    return metadata.get(FINGERPRINT_KEY), int(dim) if dim is not None else None


class VectorIndex:
    """A Chroma collection of unit vectors from one model (cosine space).

    An embedded index stays fresh when other processes write to it (see
    :mod:`searchr3.index.sharing`); a Chroma server is fresh by itself.

    Args:
        location: where the collection lives (with ``client``: its collection name and label).
        fingerprint: the embedding model's fingerprint; must equal the stored one.
        dim: vector length.
        create: create the collection if it is missing (else raise IndexNotFoundError).
        client: an existing Chroma client to use instead of one made for ``location`` (kept
            as given: the caller owns its freshness).
    """

    def __init__(self, location: IndexLocation, fingerprint: str, dim: int, create: bool = True, client=None):
        self.location = location
        self.fingerprint = fingerprint
        self.dim = dim
        self._shared = client is None and location.path is not None  # an embedded directory
        self._client = None if self._shared else (client if client is not None else location.client())
        self._epoch = -1
        if self._shared:
            with (CLIENTS.writing if create else CLIENTS.reading)(location.path) as d:
                self._collection = self._open(d.client, create)
                self._epoch = d.epoch
        else:
            self._collection = self._open(self._client, create)

    @property
    def writer_lock_path(self) -> Path | None:
        """The directory whose writer lock a whole ingestion holds (``None`` on a server)."""
        return self.location.path if self._shared else None

    @contextmanager
    def _access(self, write: bool = False):
        if not self._shared:
            yield self._collection
            return
        with (CLIENTS.writing if write else CLIENTS.reading)(self.location.path) as d:
            if d.epoch != self._epoch:  # reopened since: the old handle is gone
                self._collection = self._open(d.client, create=False)
                self._epoch = d.epoch
            yield self._collection

    def _open(self, client, create: bool):
        from chromadb.errors import NotFoundError

        name = self.location.collection
        try:
            collection = client.get_collection(name, embedding_function=None)
        except NotFoundError:
            if not create:
                raise IndexNotFoundError(f"no collection {name!r} at {self.location.label}") from None
            try:
                return client.get_or_create_collection(
                    name,
                    embedding_function=None,
                    configuration={"hnsw": {"space": "cosine"}},
                    metadata={FINGERPRINT_KEY: self.fingerprint, DIM_KEY: self.dim},
                )
            except ValueError as exc:  # chroma's InvalidArgumentError
                raise SearchR3Error(f"invalid collection name {name!r}: {str(exc).splitlines()[0]}") from exc
        stored = (collection.metadata or {}).get(FINGERPRINT_KEY)
        if stored != self.fingerprint:
            raise FingerprintMismatchError(
                f"collection {name!r} at {self.location.label} holds vectors of model {stored!r}; "
                f"this model is {self.fingerprint!r}. Re-embed it for this model with `python -m ingest --reembed`"
                " (the old vectors serve until the new ones are complete), or use another --collection."
            )
        return collection

    def count(self) -> int:
        with self._access() as col:
            return col.count()

    def upsert(self, ids: Sequence[str], vectors: np.ndarray, texts: Sequence[str], metadatas: Sequence[dict]) -> None:
        """Insert or replace chunks by id."""
        if vectors.ndim != 2 or vectors.shape[1] != self.dim:
            raise ValueError(f"expected vectors of width {self.dim}, got shape {vectors.shape}")
        with self._access(write=True) as col:
            for start in range(0, len(ids), _PAGE):
                end = start + _PAGE
                col.upsert(
                    ids=list(ids[start:end]),
                    embeddings=vectors[start:end].astype(np.float32),
                    documents=list(texts[start:end]),
                    metadatas=list(metadatas[start:end]),
                )

    def update_metadata(self, ids: Sequence[str], metadatas: Sequence[dict]) -> None:
        """Replace the metadata of existing chunks (their vectors stay)."""
        with self._access(write=True) as col:
            for start in range(0, len(ids), _PAGE):
                col.update(ids=list(ids[start : start + _PAGE]), metadatas=list(metadatas[start : start + _PAGE]))

    def delete(self, ids: Sequence[str]) -> None:
        with self._access(write=True) as col:
            for start in range(0, len(ids), _PAGE):
                col.delete(ids=list(ids[start : start + _PAGE]))

    def metadata_where(self, where: dict) -> dict[str, dict]:
        """``{id: metadata}`` of every chunk matching a Chroma ``where`` filter."""
        with self._access() as col:
            got = col.get(where=where, include=["metadatas"])
        return dict(zip(got["ids"], got["metadatas"]))

    def _pages(self, include: list[str]) -> Iterator[dict]:
        offset = 0
        while True:
            with self._access() as col:
                got = col.get(include=include, limit=_PAGE, offset=offset)
            if not got["ids"]:
                return
            yield got
            offset += len(got["ids"])

    def iter_all(self, include_text: bool = True) -> Iterator[tuple[str, str | None, dict]]:
        """Every chunk as ``(id, text, metadata)``, page by page."""
        for got in self._pages(["metadatas", "documents"] if include_text else ["metadatas"]):
            texts = got["documents"] if include_text else [None] * len(got["ids"])
            yield from zip(got["ids"], texts, got["metadatas"])

    def all_ids(self) -> list[str]:
        return [i for got in self._pages([]) for i in got["ids"]]

    def query(self, vector: np.ndarray, k: int, where: dict | None = None) -> list[Hit]:
        """The ``k`` nearest chunks to ``vector`` (optionally filtered), best first."""
        with self._access() as col:
            n = col.count()
            if n == 0 or k <= 0:
                return []
            got = col.query(
                query_embeddings=[np.asarray(vector, dtype=np.float32)],
                n_results=min(k, n),
                where=where or None,
                include=["documents", "metadatas", "distances"],
            )
        return [
            Hit(i, t, m or {}, 1.0 - float(d))
            for i, t, m, d in zip(got["ids"][0], got["documents"][0], got["metadatas"][0], got["distances"][0])
        ]

    def missing_vectors(self, ids: Sequence[str], page: int = 200) -> list[str]:
        """Those of ``ids`` the vector segment cannot return: a query restricted to each page of
        ids must find all of them (exact for small pages; ~1 s per 20,000 ids)."""
        probe = np.full(self.dim, 1.0 / np.sqrt(self.dim), dtype=np.float32)
        missing: list[str] = []
        for start in range(0, len(ids), page):
            chunk = list(ids[start : start + page])
            with self._access() as col:
                got = col.query(query_embeddings=[probe], ids=chunk, n_results=len(chunk), include=[])
            missing += sorted(set(chunk) - set(got["ids"][0]))
        return missing

    @contextmanager
    def _client_now(self):
        """The client, fresh, for collection-level writes (create, delete, rename)."""
        if not self._shared:
            yield self._client
            return
        with CLIENTS.writing(self.location.path) as d:
            yield d.client

    def rebuild_vector_segment(self, embed: Callable[[list[tuple[str, dict]]], np.ndarray], group: int = 32) -> int:
        """Rebuild the collection from its metadata store: every chunk re-embedded (``embed`` maps
        stored ``(text, metadata)`` pairs to vectors) into a spare collection that then takes this
        one's name. Until the swap the old collection stays whole; after it the new one is.
        Returns how many chunks were rebuilt."""
        return self.reembed(embed, self.fingerprint, self.dim, group)

    def reembed(self, embed: Callable[[list[tuple[str, dict]]], np.ndarray], fingerprint: str, dim: int,
                group: int = 32, on_chunks: Callable[[int], None] | None = None) -> int:
        """:meth:`rebuild_vector_segment` into the vector space of another model: the spare records
        ``fingerprint`` and ``dim``, and after the swap this index is that model's. ``on_chunks(n)``
        is called after each group. Returns how many chunks were re-embedded."""
        chunks = list(self.iter_all())
        name, spare = self.location.collection, f"{self.location.collection}-rebuild"
        with self._client_now() as client:
            with contextlib.suppress(Exception):  # a spare left by an interrupted rebuild
                client.delete_collection(spare)
            client.create_collection(
                spare, embedding_function=None, configuration={"hnsw": {"space": "cosine"}},
                metadata={FINGERPRINT_KEY: fingerprint, DIM_KEY: dim},
            )
        for start in range(0, len(chunks), group):
            part = chunks[start : start + group]
            vectors = embed([(t or "", m or {}) for _, t, m in part]).astype(np.float32)
            if vectors.shape != (len(part), dim):
                raise ValueError(f"expected vectors of shape {(len(part), dim)}, got {vectors.shape}")
            with self._client_now() as client:
                client.get_collection(spare, embedding_function=None).upsert(
                    ids=[i for i, _, _ in part], embeddings=vectors,
                    documents=[t or "" for _, t, _ in part], metadatas=[m for _, _, m in part])
            if on_chunks is not None:
                on_chunks(len(part))
        with self._client_now() as client:
            client.delete_collection(name)
            client.get_collection(spare, embedding_function=None).modify(name=name)
            self._collection = client.get_collection(name, embedding_function=None)
        self.fingerprint, self.dim = fingerprint, dim
        return len(chunks)

    def get(self, ids: Sequence[str]) -> dict[str, tuple[str, dict]]:
        """``{id: (text, metadata)}`` for the given ids that exist."""
        if not ids:
            return {}
        with self._access() as col:
            got = col.get(ids=list(ids), include=["documents", "metadatas"])
        return {i: (t, m) for i, t, m in zip(got["ids"], got["documents"], got["metadatas"])}
