"""The ``run`` entry point: set-up happens in the repository, the user's commands run where the
user called them from (a relative path is the caller's, not the repository's)."""

import json
import subprocess
from pathlib import Path

import pytest

RUN = Path(__file__).resolve().parents[1] / "run"


def _run(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(RUN), *args], cwd=cwd, capture_output=True, text=True, timeout=900)


@pytest.mark.tiny  # starts a process
def test_python_runs_in_the_callers_directory(tmp_path):
    out = _run(tmp_path, "python", "-c", "import os, searchr3; print(os.getcwd())")
    assert out.returncode == 0, out.stderr
    assert Path(out.stdout.strip()) == tmp_path


@pytest.mark.model
def test_ingest_reads_and_writes_relative_to_the_caller(tmp_path):
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "lighthouse.md").write_text("# Skerryvore\n\nThe lighthouse was first lit in 1844.\n")
    missing = _run(tmp_path, "ingest", "elsewhere", "--db", "db")
    assert missing.returncode == 2 and missing.stderr.strip() == "error: no such file or directory: elsewhere"
    out = _run(tmp_path, "ingest", "notes", "--db", "db", "--json")
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    assert summary["files_indexed"] == 1 and summary["chunks_added"] == 1
    assert (tmp_path / "db").is_dir()


@pytest.mark.tiny  # starts a process
def test_an_unknown_command_is_one_usage_line(tmp_path):
    out = _run(tmp_path, "nonsense")
    assert out.returncode == 2
    assert out.stderr.strip() == "usage: ./run {app|tests|lint|ingest|python} [ARGS]"
