"""BM25 beside the vector index, kept in step with the Chroma collection.

The BM25 index is derived data: it is saved with a digest of the chunk ids it covers and
rebuilt from the collection whenever that digest no longer matches (after an ingestion
run, an interrupted run, or a change made by another process).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

from searchr3.config import cache_dir
from searchr3.index.vectors import IndexLocation, VectorIndex


def bm25_text(text: str, metadata: dict) -> str:
    """What BM25 sees for a chunk: its heading (if any) and its text."""
    heading = metadata.get("heading")
    return f"{heading}\n{text}" if heading else text


def ids_digest(ids: Sequence[str]) -> str:
    """Digest of a set of chunk ids (their order does not matter)."""
    h = hashlib.sha256()
    for i in sorted(ids):
        h.update(i.encode() + b"\0")
    return h.hexdigest()


def chunk_digest(index: VectorIndex) -> str:
    """Digest of the chunk ids a collection holds now (reads every id once)."""
    return ids_digest(index.all_ids())


def lexical_dir(location: IndexLocation) -> Path:
    """Where the BM25 files for a collection live (beside an embedded db, else in the cache)."""
    if location.path is not None:
        return location.path / "bm25" / location.collection
    return cache_dir() / "bm25" / f"{location.host}_{location.port}" / location.collection


class LexicalIndex:
    """BM25 (bm25s, English stop words) over chunk ids and texts."""

    def __init__(self, ids: list[str], texts: list[str]):
        import bm25s

        self.ids = ids
        self.digest = ids_digest(ids)
        self._retriever = None
        if ids:
            self._retriever = bm25s.BM25()
            self._retriever.index(bm25s.tokenize(texts, stopwords="en", show_progress=False), show_progress=False)

    def search(self, query: str, k: int) -> list[tuple[str, float]]:
        """``(id, bm25 score)`` of the best ``k`` chunks with a positive score."""
        import bm25s

        if self._retriever is None or k <= 0:
            return []
        tokens = bm25s.tokenize([query], stopwords="en", show_progress=False)
        if not tokens.vocab:
            return []
        docs, scores = self._retriever.retrieve(tokens, k=min(k, len(self.ids)), show_progress=False)
        return [(self.ids[int(d)], float(s)) for d, s in zip(docs[0], scores[0]) if s > 0]

    def save(self, directory: Path) -> None:
        directory.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=directory.name + ".", dir=directory.parent))
        (tmp / "ids.json").write_text(json.dumps({"digest": self.digest, "ids": self.ids}))
        if self._retriever is not None:
            self._retriever.save(str(tmp / "bm25"))
        shutil.rmtree(directory, ignore_errors=True)
        try:
            tmp.rename(directory)
        except OSError:  # another process saved it in between: theirs stands
            shutil.rmtree(tmp, ignore_errors=True)

    @classmethod
    def load(cls, directory: Path) -> LexicalIndex | None:
        import bm25s

        meta = directory / "ids.json"
        if not meta.is_file():
            return None
        data = json.loads(meta.read_text())
        self = cls.__new__(cls)
        self.ids, self.digest = data["ids"], data["digest"]
        self._retriever = bm25s.BM25.load(str(directory / "bm25")) if self.ids else None
        return self

    @classmethod
    def build(cls, index: VectorIndex) -> LexicalIndex:
        ids, texts = [], []
        for chunk_id, text, metadata in index.iter_all():
            ids.append(chunk_id)
            texts.append(bm25_text(text or "", metadata or {}))
        return cls(ids, texts)

    @staticmethod
    def is_current(index: VectorIndex, digest: str | None = None) -> bool:
        """Whether the saved BM25 index covers exactly the collection's chunks (nothing loaded).
        ``digest``: :func:`chunk_digest` of ``index`` when the caller has it already."""
        meta = lexical_dir(index.location) / "ids.json"
        return meta.is_file() and json.loads(meta.read_text()).get("digest") == (digest or chunk_digest(index))

    @classmethod
    def in_step_with(cls, index: VectorIndex, digest: str | None = None) -> LexicalIndex:
        """The saved BM25 index if it covers exactly the collection's chunks, else a rebuilt
        one. ``digest``: :func:`chunk_digest` of ``index`` when the caller has it already."""
        directory = lexical_dir(index.location)
        saved = cls.load(directory)
        if saved is not None and saved.digest == (digest or chunk_digest(index)):
            return saved
        fresh = cls.build(index)
        fresh.save(directory)
        return fresh
