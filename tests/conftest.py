"""Shared fixtures (the real default model and the tiny stand-in, each loaded once per session)
and the test tiers.

Tiers, one marker each (``./run tests -m unit`` ...):

- ``unit``: no model, no server, no subprocess (enforced), nothing that reads whole manuals:
  seconds in all.
- ``tiny``: the tiny stand-in model (:mod:`tests.tiny_model`), real Chroma, real servers and
  subprocesses, sentence encoders, whole installed manuals: the logic of indexing, search,
  serving and training.
- ``model``: the real shipped model, where the test is about it (its figures, precision and
  decoding equality, the trained read-out, the page end to end).

A test is ``model`` when it uses the ``embedder``/``trained`` fixtures or is marked so, ``tiny``
when it uses ``tiny``/``chroma_server`` or is marked so, else ``unit``.
"""


from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bench.net import free_port, wait_for_http
from searchr3 import Embedder, ModelConfig
from tests.tiny_model import tiny_model_dir

# float32: the reference arithmetic, so exactness tests hold to ~1e-5; the default (auto)
# precision is compared with it in test_precision.py and runs in every CLI and app test
SMALL = dict(max_query_tokens=64, max_document_tokens=128, reasoning_tokens=24, precision="float32")


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    """The embedded default model (SmolLM2-135M-Instruct) without any adapter, small limits."""
    return Embedder.shared(ModelConfig(adapter=None, **SMALL))


@pytest.fixture(scope="session")
def trained() -> Embedder:
    """The default as users get it: the base model with the shipped stage-1 adapter."""
    return Embedder.shared(ModelConfig(**SMALL))


@pytest.fixture(scope="session")
def tiny() -> Embedder:
    """The tiny stand-in model (a bag of words; :mod:`tests.tiny_model`), small limits, float32:
    the vector space of :data:`tests.index_tools.MODEL`'s command lines."""
    return Embedder.shared(ModelConfig(model=str(tiny_model_dir()), **SMALL))


@pytest.fixture(scope="session")
def pyfaq():
    """The Python FAQ dev set, built from Debian's python3-doc (as ``python -m searchr3.eval.build`` does)."""
    from searchr3.eval.build import build_pyfaq

    return build_pyfaq()


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory):
    """A real `chroma run` server on 127.0.0.1 (its port), stopped after the session."""
    chroma = shutil.which("chroma") or str(Path(sys.executable).parent / "chroma")
    port = free_port()
    path = tmp_path_factory.mktemp("chroma-server")
    proc = subprocess.Popen([chroma, "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_http(f"http://127.0.0.1:{port}/api/v2/heartbeat", proc, timeout=60)
    yield port
    proc.terminate()
    proc.wait(timeout=30)


MODEL_FIXTURES = {"embedder", "trained"}
TINY_FIXTURES = {"tiny", "chroma_server"}
TIERS = ("unit", "tiny", "model")


def tier(item: pytest.Item) -> str:
    """The tier a test runs in (see the module docstring)."""
    names = set(getattr(item, "fixturenames", ()))
    if item.get_closest_marker("model") or MODEL_FIXTURES & names:
        return "model"
    if item.get_closest_marker("tiny") or TINY_FIXTURES & names:
        return "tiny"
    return "unit"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Each test gets exactly one tier marker; ``unit`` tests may use no model, server or subprocess."""
    for item in items:
        item.add_marker(getattr(pytest.mark, tier(item)))


@pytest.fixture(autouse=True)
def _unit_tests_start_no_process(request, monkeypatch):
    """A ``unit`` test that starts a process fails, naming the tier it belongs in."""
    if request.node.get_closest_marker("unit") is None:
        return

    def refuse(*args, **kwargs):
        raise AssertionError("a unit test starts no process: mark it tiny (or model)")

    monkeypatch.setattr(subprocess.Popen, "__init__", refuse)
