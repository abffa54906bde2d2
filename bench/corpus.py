"""Real text for benchmarks that needs no download: the standard library's docstrings."""

from __future__ import annotations

import importlib
import inspect

MODULES = [
    "json",
    "pathlib",
    "collections",
    "functools",
    "itertools",
    "argparse",
    "subprocess",
    "re",
    "logging",
    "asyncio",
    "typing",
    "datetime",
]


def stdlib_passages(tokenizer, n: int, tokens: int) -> list[str]:
    """``n`` passages of about ``tokens`` tokens each, cut from stdlib docstrings."""
    text_ids: list[int] = []
    for name in MODULES:
        module = importlib.import_module(name)
        for _, obj in inspect.getmembers(module):
            doc = inspect.getdoc(obj)
            if doc and len(doc) > 200:
                text_ids.extend(tokenizer(doc + "\n\n", add_special_tokens=False)["input_ids"])
        if len(text_ids) >= n * tokens:
            break
    if len(text_ids) < n * tokens:
        raise RuntimeError(f"only {len(text_ids)} tokens of docstrings, need {n * tokens}")
    return [tokenizer.decode(text_ids[i * tokens : (i + 1) * tokens]) for i in range(n)]
