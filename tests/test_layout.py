"""The house's shape: folders by concern, imports one way, no circles (read with grimp, nothing run)."""

from __future__ import annotations

import ast
from pathlib import Path

import grimp
import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("searchr3", "app", "ingest", "training", "bench", "tests")


@pytest.fixture(scope="module")
def graph():
    import sys

    sys.path.insert(0, str(REPO))
    try:
        return grimp.build_graph(*PACKAGES, include_external_packages=False, cache_dir=None)
    finally:
        sys.path.remove(str(REPO))


def _imports(graph, prefix: str) -> dict[str, set[str]]:
    mods = [m for m in graph.modules if m == prefix or m.startswith(prefix + ".")]
    return {m: set(graph.find_modules_directly_imported_by(m)) for m in mods}


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one node (Tarjan, iterative)."""
    index, low, stack, on, found, counter = {}, {}, [], set(), [], 0
    for root in edges:
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on.add(root)
        while work:
            node, targets = work[-1]
            nxt = next((t for t in targets if t in edges), None)
            if nxt is not None:
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on.add(nxt)
                    work.append((nxt, iter(sorted(edges[nxt]))))
                elif nxt in on:
                    low[node] = min(low[node], index[nxt])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    top = stack.pop()
                    on.discard(top)
                    comp.append(top)
                    if top == node:
                        break
                if len(comp) > 1:
                    found.append(sorted(comp))
    return found


def test_no_import_circle_between_modules(graph):
    edges = _imports(graph, "searchr3")
    assert _cycles(edges) == []


def test_no_import_circle_between_folders(graph):
    """``searchr3.model`` may import ``searchr3.config``, but then nothing under ``config`` imports ``model``."""

    def folder(module: str) -> str:
        return ".".join(module.split(".")[:2])

    edges: dict[str, set[str]] = {}
    for module, targets in _imports(graph, "searchr3").items():
        edges.setdefault(folder(module), set()).update(folder(t) for t in targets if folder(t) != folder(module))
    edges.pop("searchr3", None)  # the package's own __init__ re-exports names from every folder
    for targets in edges.values():
        targets.discard("searchr3")
    assert _cycles(edges) == []


@pytest.mark.parametrize("source", ["searchr3", "bench"])
def test_arrows_point_one_way(graph, source):
    """The library imports none of its users; benchmarks never import the tests."""
    banned = {"searchr3": ("app", "ingest", "training", "bench", "tests"), "bench": ("tests",)}[source]
    wrong = sorted((m, t) for m, targets in _imports(graph, source).items() for t in targets
                   if t.split(".")[0] in banned)
    assert wrong == []


def test_root_holds_at_most_eight_modules():
    root = sorted(p.name for p in (REPO / "searchr3").glob("*.py"))
    assert len(root) <= 8, root


def test_every_folder_says_what_lives_there():
    folders = [p.parent for p in (REPO / "searchr3").rglob("__init__.py")]
    missing = [str(f.relative_to(REPO)) for f in sorted(folders)
               if len(ast.get_docstring(ast.parse((f / "__init__.py").read_text())) or "") < 60]
    assert missing == []
    undeclared = [str(p.relative_to(REPO)) for p in (REPO / "searchr3").rglob("*.py")
                  if not (p.parent / "__init__.py").exists()]
    assert undeclared == []


def test_layout_page_is_generated_from_the_docstrings():
    """``docs/layout.md`` is what ``python scripts/layout.py`` prints now (regenerate it after a move)."""
    import runpy

    layout = runpy.run_path(str(REPO / "scripts" / "layout.py"))["layout"]
    assert (REPO / "docs" / "layout.md").read_text() == layout()


def test_every_public_name_still_comes_from_the_package_root():
    """``from searchr3 import X`` works for every name in ``__all__``, wherever its module moved."""
    import searchr3

    missing = [name for name in searchr3.__all__ if getattr(searchr3, name, None) is None]
    assert missing == []
    assert searchr3.Searcher.__module__ == "searchr3.retrieval.searcher"
