"""training.kit: a run's model, pairs and dev set carried in two parts, unpacked, and the prepared
device run (training.device_run) dry-run in it end to end."""

import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from searchr3.hashing import sha256_file
from searchr3.model.default import DEFAULT_GGUF, DEFAULT_PACKAGE, default_gguf_path
from training.kit import (
    CARRY_LIMIT_MIB,
    WHOLE_MIX_KIT_MIB,
    KitError,
    MiB,
    missing_parts,
    pack,
    receive,
    travelling_mib,
    unpack,
)

ROOT = Path(__file__).resolve().parents[2]
PAIRS = [
    {"query": "reverse a list in place", "positive": "list.reverse() reverses the items of the list in place.",
     "negatives": ["dict.clear() removes all items from the dictionary."]},
    {"query": "open a file for reading", "positive": "open(file, 'r') returns a file object opened for reading.",
     "negatives": ["os.remove(path) deletes the file at path."]},
]


@pytest.fixture(scope="module")
def kit(tmp_path_factory):
    d = tmp_path_factory.mktemp("kit")
    pairs = d / "pairs.jsonl"
    pairs.write_text("".join(json.dumps(p) + "\n" for p in PAIRS))
    traces = d / "pairs-traces.jsonl"
    traces.write_text("".join(json.dumps({**p, "trace": "a passage about " + p["query"]}) + "\n" for p in PAIRS))
    dev = d / "tinydev"
    (dev / "qrels").mkdir(parents=True)
    (dev / "queries.jsonl").write_text(json.dumps({"_id": "q1", "text": "reverse a list"}) + "\n")
    (dev / "corpus.jsonl").write_text(json.dumps({"_id": "d1", "title": "", "text": PAIRS[0]["positive"]}) + "\n")
    (dev / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\n")
    # xz preset 1 (24 s here) instead of the shipped preset's 96 s: the same path, a slightly larger model
    manifest = pack(pairs, d / "parts", calls=2, traces=traces, dev=(dev,), wheels=[], model_preset=1)
    return d, manifest


@pytest.mark.tiny  # git ls-files: the checkout's size
def test_the_kit_travels_in_two_calls_beside_the_checkout_and_arrives_in_any_order(kit, tmp_path):
    d, manifest = kit
    names = [p["name"] for p in manifest["parts"]]
    # two parts, each fitting beside the checkout under the device's 64 MiB a call
    assert names == ["p1", "p2"]
    room = CARRY_LIMIT_MIB - travelling_mib()
    assert all((d / "parts" / n / "kit.part").stat().st_size < room * MiB for n in names), room
    assert sum(p["bytes"] for p in manifest["parts"]) == manifest["bytes"]
    assert manifest["contents"]["gguf_sha256"] == sha256_file(default_gguf_path())
    joined = b"".join((d / "parts" / n / "kit.part").read_bytes() for n in names)
    with tarfile.open(fileobj=io.BytesIO(joined)) as tar:  # the model and the pairs travel xz-compressed
        members = {m.name: m.size for m in tar.getmembers()}
    assert "pairs.jsonl" not in members and {"pairs.jsonl.xz", "pairs-traces.jsonl.xz"} <= set(members)
    assert members[f"{DEFAULT_PACKAGE}/{DEFAULT_GGUF}.xz"] < 0.95 * default_gguf_path().stat().st_size

    home = tmp_path / "home"
    assert receive(d / "parts" / "p2", home)[1] == ["p1"]
    with pytest.raises(KitError, match="incomplete: part.s. p1 not received"):
        unpack(home)
    bad = tmp_path / "p1"  # a part damaged on the way is refused and not kept
    shutil.copytree(d / "parts" / "p1", bad)
    with open(bad / "kit.part", "r+b") as f:
        f.seek(1000)
        f.write(b"\0\1\2\3")
    with pytest.raises(KitError, match="p1 is missing or corrupt"):
        receive(bad, home)
    assert missing_parts(home) == ["p1"]
    assert receive(d / "parts" / "p1", home)[1] == []

    root = unpack(home)
    assert sha256_file(root / DEFAULT_PACKAGE / DEFAULT_GGUF) == sha256_file(default_gguf_path())
    assert (root / "pairs.jsonl").read_bytes() == (d / "pairs.jsonl").read_bytes()
    assert (root / "pairs-traces.jsonl").read_bytes() == (d / "pairs-traces.jsonl").read_bytes()
    assert not list(root.rglob("*.xz"))
    assert (root / "dev" / "tinydev" / "qrels" / "test.tsv").is_file()
    stamp = (root / ".unpacked").stat().st_mtime_ns
    assert unpack(home) == root and (root / ".unpacked").stat().st_mtime_ns == stamp  # unpacked once


@pytest.mark.tiny  # git ls-files: the checkout's size
def test_the_checkout_leaves_two_calls_room_for_the_whole_mix():
    """Every call carries the tracked checkout: it must stay small enough that the whole mix's kit
    (the model, 33,900 pairs, trace targets, wheels) fits two calls."""
    checkout = travelling_mib()
    assert checkout <= 16, checkout
    assert 2 * (CARRY_LIMIT_MIB - checkout - 1) >= WHOLE_MIX_KIT_MIB


@pytest.mark.tiny  # git ls-files: the checkout's size
def test_a_kit_that_does_not_fit_its_calls_is_refused(kit, tmp_path):
    d, _ = kit
    with pytest.raises(KitError, match=r"1 call\(s\) carry at most .* MiB each beside the .* MiB checkout"):
        pack(d / "pairs.jsonl", tmp_path / "one", calls=1, wheels=[], model_preset=1)
    assert not (tmp_path / "one").exists()


def _kit(args, home, **kw):
    env = dict(os.environ, SEARCHR3_KIT=str(home))
    return subprocess.run([sys.executable, "-m", "training.kit", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, **kw)


@pytest.mark.model  # the real model, three training stages
def test_the_prepared_device_run_dry_runs_end_to_end_inside_the_kit(kit, tmp_path):
    """The two calls as the device gets them: receive p1; receive p2, then exec the prepared run
    (``--dry-run``: its three stages with tiny steps) with the model found in the kit."""
    d, manifest = kit
    home, work, out = tmp_path / "home", tmp_path / "work", tmp_path / "out"
    done = _kit(["receive", str(d / "parts" / "p1")], home)
    assert done.returncode == 0 and "1 of 2 parts here; still to send: p2" in done.stdout, done.stderr
    py = sys.executable
    where = f"import importlib.util as u; print('model from', u.find_spec('{DEFAULT_PACKAGE}').origin)"
    command = (f"{py} -c \"{where}\" && "
               f"{py} -m training.device_run --dry-run --minutes 10 --work {work}")  # minutes: upper bounds
    done = _kit(["receive", str(d / "parts" / "p2")], home)
    assert done.returncode == 0 and "2 of 2 parts here; complete" in done.stdout
    done = _kit(["exec", "--out", str(out), "--", command], home, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    # the model came from the kit (its own de-quantized cache too), not from the installed package
    assert f"model from {home / 'root' / DEFAULT_PACKAGE / '__init__.py'}" in done.stdout
    assert (home / "cache").is_dir()
    # what comes back: within the tool's 8 files of at most 16 MiB
    back = sorted(p.name for p in out.iterdir())
    assert back == ["exec.log", "plan.json", "rl.tar", "stage1.tar", "traces.tar"]
    assert all(p.stat().st_size < 16 * MiB for p in out.iterdir())
    plan = json.loads((out / "plan.json").read_text())
    assert [(s["stage"], s["status"], s["steps"]) for s in plan["stages"]] == [
        ("stage1", "done", 2), ("traces", "done", 2), ("rl", "done", 2)]
    # each stage starts from the one before it
    assert [s["init"] for s in plan["stages"]] == ["default", str(work / "stage1" / "adapter"),
                                                   str(work / "traces" / "adapter")]
    with tarfile.open(out / "rl.tar") as tar:
        assert {"adapter/adapter_model.safetensors", "log.jsonl", "summary.json"} <= set(tar.getnames())
    assert "== rl: done" in (out / "exec.log").read_text()


@pytest.mark.tiny  # starts a process
def test_errors_are_one_line(kit, tmp_path):
    d, _ = kit
    done = _kit(["pack", str(tmp_path / "nope.jsonl"), "--out", str(tmp_path / "k")], tmp_path / "home")
    assert done.returncode == 2 and done.stderr.strip() == f"error: no such pairs file: {tmp_path / 'nope.jsonl'}"
    done = _kit(["exec", "--out", str(tmp_path / "o"), "--", "true"], tmp_path / "empty")
    assert done.returncode == 2 and done.stderr.startswith("error: no kit part has been received")
    assert done.stderr.count("\n") == 1
    done = _kit(["receive", str(tmp_path)], tmp_path / "home")
    assert done.returncode == 2 and "not a kit manifest" in done.stderr
