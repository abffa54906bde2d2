"""Content hashes that name files and folders (cache keys, model and adapter identities)."""

from __future__ import annotations

import hashlib
from pathlib import Path


def sha256_file(path: Path, limit: int | None = None) -> str:
    """Hex SHA-256 of a file's bytes (of its first ``limit`` bytes when given)."""
    h = hashlib.sha256()
    remaining = limit
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20 if remaining is None else min(1 << 20, remaining)):
            h.update(chunk)
            if remaining is not None:
                remaining -= len(chunk)
                if remaining <= 0:
                    break
    return h.hexdigest()


def short_hash(data: bytes) -> str:
    """The first 12 hex digits of ``data``'s SHA-256: a short identity."""
    return hashlib.sha256(data).hexdigest()[:12]
