"""The frozen side of query-side training: the pairs' positives embedded once by the documents
adapter (kept in the run folder in parts, so an interrupted run resumes where it stopped), and the
bank rows a teacher scores as close to a query as its positive (likely false negatives)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from .pairs import Pair

#: Passages embedded and saved together (an interrupted bank loses at most one part).
PART_SIZE = 512


@dataclass(frozen=True)
class BankRows:
    """The bank's passages (each distinct positive text once) and, per pair, its positive's row."""

    texts: list[str]
    labels: list[int]

    @classmethod
    def of(cls, pairs: Sequence[Pair]) -> BankRows:
        rows: dict[str, int] = {}
        labels = [rows.setdefault(p.positive, len(rows)) for p in pairs]
        return cls(list(rows), labels)

    def key(self, *identity: str) -> str:
        """A content hash of the passages and ``identity`` (the model that embeds them, limits, ...)."""
        return content_key(self.texts, *identity)


def content_key(texts: Sequence[str], *identity: str) -> str:
    """A hash of ``texts`` and ``identity`` (the model that embeds them, limits, ...): the key of
    :func:`embed_bank`'s saved parts."""
    h = hashlib.sha256()
    for part in (*identity, *texts):
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()[:16]


def _keep_parts_of(folder: Path, key: str) -> None:
    """Keep ``folder``'s parts only if they were made for ``key``."""
    folder.mkdir(parents=True, exist_ok=True)
    stamp = folder / "key.txt"
    if stamp.is_file() and stamp.read_text().strip() == key:
        return
    for old in folder.glob("part-*.pt"):
        old.unlink()
    stamp.write_text(key + "\n")


def embed_bank(embed: Callable[[list[str]], torch.Tensor], texts: list[str], folder: Path, key: str,
               tick: Callable[[int, int], None] = lambda done, total: None) -> torch.Tensor:
    """Vectors ``[len(texts), H]`` of ``texts`` by ``embed``, saved in ``folder`` part by part and
    read back from there when a run (with the same ``key``) is resumed."""
    _keep_parts_of(folder, key)
    parts = []
    for n, start in enumerate(range(0, len(texts), PART_SIZE)):
        path = folder / f"part-{n:05d}.pt"
        if path.is_file():
            part = torch.load(path)
        else:
            part = embed(texts[start : start + PART_SIZE]).float().cpu()
            tmp = path.with_suffix(".tmp")
            torch.save(part, tmp)
            tmp.rename(path)
        parts.append(part)
        tick(min(start + PART_SIZE, len(texts)), len(texts))
    return torch.cat(parts)


def near_positives(queries: torch.Tensor, bank: torch.Tensor, labels: Sequence[int], margin: float,
                   chunk: int = 1024) -> list[torch.Tensor]:
    """Per query, the bank rows (its own positive never) that a teacher scores at least as high
    as the positive less ``margin``: ``queries`` ``[P, H]`` and ``bank`` ``[N, H]`` are the
    teacher's unit vectors, ``labels[i]`` query i's positive row."""
    out: list[torch.Tensor] = []
    labels_t = torch.as_tensor(list(labels), dtype=torch.long)
    for start in range(0, len(labels_t), chunk):
        rows = labels_t[start : start + chunk]
        scores = queries[start : start + chunk].float() @ bank.float().T
        index = torch.arange(len(rows))
        near = scores >= (scores[index, rows] - margin)[:, None]
        near[index, rows] = False
        out += [row.nonzero().flatten() for row in near]
    return out
