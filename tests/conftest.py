"""Shared fixtures: the real default model, loaded once per test session."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from searchr3 import Embedder, ModelConfig
from tests.net import free_port, wait_for_http

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


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test that needs the real model is in the slow tier (``-m "not slow"`` skips them)."""
    for item in items:
        if MODEL_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
