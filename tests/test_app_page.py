"""The page's handler on the real model, and the server answering over HTTP."""

import socket
import subprocess
import sys
import time
import urllib.request

from app.page import analyse


def test_analyse_with_and_without_reasoning(embedder):
    trace, status = analyse(embedder, "How do I reverse a list?", reasoning=True)
    assert trace.strip() and "(no trace)" not in trace
    assert "576 dimensions" in status and embedder.fingerprint in status
    trace, status = analyse(embedder, "How do I reverse a list?", reasoning=False)
    assert "reasoning is off" in trace


def test_analyse_reports_bad_input_in_the_page(embedder):
    trace, status = analyse(embedder, "   ", reasoning=False)
    assert trace == "" and status.startswith("**Error:**") and "empty" in status


def test_analyse_says_when_a_long_question_was_cut(embedder):
    _, status = analyse(embedder, "why " * 10_000, reasoning=False)
    assert "was cut" in status


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_server_starts_and_serves_the_page():
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "app", "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.time() + 120
        body = None
        while time.time() < deadline and body is None:
            try:
                body = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5).read().decode()
            except OSError:
                assert proc.poll() is None, proc.stdout.read()
                time.sleep(1)
        assert body is not None and "searchr3" in body
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_bad_model_path_is_one_line_and_nonzero(tmp_path):
    out = subprocess.run([sys.executable, "-m", "app", "--model", str(tmp_path / "missing")], capture_output=True, text=True, timeout=120)
    assert out.returncode == 1
    assert out.stderr.strip().startswith("error: model not found") and len(out.stderr.strip().splitlines()) == 1
