"""Reading JSON-lines files with errors that name the file and line."""

from __future__ import annotations

import json
from pathlib import Path

from searchr3.errors import SearchR3Error


def read_jsonl(
    path: Path, error: type[SearchR3Error] = SearchR3Error, missing: str = "no such file: {path}"
) -> list[tuple[int, dict]]:
    """``(line number, object)`` for each non-blank line of ``path``.

    Raises ``error`` with ``missing`` (formatted with ``path``) when the file is absent, and
    with ``PATH:LINE: ...`` when a line is not a JSON object.
    """
    if not path.is_file():
        raise error(missing.format(path=path))
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise error(f"{path}:{n}: not JSON ({exc.msg})") from None
        if not isinstance(row, dict):
            raise error(f"{path}:{n}: not a JSON object")
        rows.append((n, row))
    return rows
