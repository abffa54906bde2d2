"""Reading and writing BEIR-layout folders: ``corpus.jsonl``, ``queries.jsonl``, ``qrels/test.tsv``."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from searchr3.errors import SearchR3Error
from searchr3.jsonl import read_jsonl


class DatasetError(SearchR3Error):
    """A BEIR folder is missing a file or has a malformed line."""


@dataclass
class Dataset:
    """Corpus ``{id: (title, text)}``, queries ``{id: text}``, qrels ``{query id: {doc id: grade}}``."""

    corpus: dict[str, tuple[str, str]]
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]

    def doc_text(self, doc_id: str) -> str:
        title, text = self.corpus[doc_id]
        return f"{title}\n{text}" if title else text


def _jsonl(path: Path, required: tuple[str, ...]) -> list[dict]:
    rows = read_jsonl(path, DatasetError, "missing {path}")
    for n, row in rows:
        if any(k not in row for k in required):
            raise DatasetError(f"{path}:{n}: needs the fields {', '.join(required)}")
    return [row for _, row in rows]


def read_qrels(path: Path) -> dict[str, dict[str, int]]:
    """``qrels/test.tsv``: a header line ``query-id corpus-id score`` then tab-separated rows."""
    if not path.is_file():
        raise DatasetError(f"missing {path}")
    qrels: dict[str, dict[str, int]] = {}
    lines = path.read_text(encoding="utf-8").splitlines()
    for n, line in enumerate(lines, start=1):
        if not line.strip() or (n == 1 and line.lower().startswith("query-id")):
            continue
        parts = line.split("\t")
        if len(parts) != 3:
            raise DatasetError(
                f"{path}:{n}: expected 3 tab-separated fields (query-id, corpus-id, score), got {len(parts)}"
            )
        try:
            grade = int(float(parts[2]))
        except ValueError:
            raise DatasetError(f"{path}:{n}: score {parts[2]!r} is not a number") from None
        qrels.setdefault(parts[0], {})[parts[1]] = grade
    return qrels


def load_beir(folder: str | Path, split: str = "test") -> Dataset:
    """Load a BEIR folder; queries without relevant documents are dropped.

    Raises :class:`DatasetError` for a missing file, a malformed line, or qrels naming
    documents that are not in the corpus.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetError(f"no such dataset folder: {folder}")
    corpus = {
        str(r["_id"]): (r.get("title") or "", r["text"]) for r in _jsonl(folder / "corpus.jsonl", ("_id", "text"))
    }
    queries = {str(r["_id"]): r["text"] for r in _jsonl(folder / "queries.jsonl", ("_id", "text"))}
    qrels = read_qrels(folder / "qrels" / f"{split}.tsv")
    unknown = sorted({d for rel in qrels.values() for d in rel if d not in corpus})
    if unknown:
        raise DatasetError(f"qrels name {len(unknown)} documents missing from the corpus, e.g. {unknown[0]!r}")
    qrels = {q: rel for q, rel in qrels.items() if q in queries and any(g > 0 for g in rel.values())}
    if not qrels:
        raise DatasetError(f"{folder}: no query has a relevant document")
    return Dataset(corpus, {q: queries[q] for q in qrels}, qrels)


def write_beir(folder: str | Path, dataset: Dataset) -> None:
    """Write ``dataset`` as a BEIR folder."""
    folder = Path(folder)
    (folder / "qrels").mkdir(parents=True, exist_ok=True)
    with open(folder / "corpus.jsonl", "w", encoding="utf-8") as f:
        for i, (title, text) in dataset.corpus.items():
            f.write(json.dumps({"_id": i, "title": title, "text": text}, ensure_ascii=False) + "\n")
    with open(folder / "queries.jsonl", "w", encoding="utf-8") as f:
        for i, text in dataset.queries.items():
            f.write(json.dumps({"_id": i, "text": text}, ensure_ascii=False) + "\n")
    with open(folder / "qrels" / "test.tsv", "w", encoding="utf-8") as f:
        f.write("query-id\tcorpus-id\tscore\n")
        for q, rel in dataset.qrels.items():
            for d, g in rel.items():
                f.write(f"{q}\t{d}\t{g}\n")
