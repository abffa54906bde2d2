"""training.kit: a run's model, pairs and dev set carried in parts, unpacked and trained in."""

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
from training.kit import KitError, MiB, missing_parts, pack, receive, unpack

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
    dev = d / "tinydev"
    (dev / "qrels").mkdir(parents=True)
    (dev / "queries.jsonl").write_text(json.dumps({"_id": "q1", "text": "reverse a list"}) + "\n")
    (dev / "corpus.jsonl").write_text(json.dumps({"_id": "d1", "title": "", "text": PAIRS[0]["positive"]}) + "\n")
    (dev / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\n")
    manifest = pack(pairs, d / "parts", part_mib=40, dev=(dev,), wheels=[])
    return d, manifest


def test_parts_fit_the_carry_limit_and_arrive_in_any_order(kit, tmp_path):
    d, manifest = kit
    names = [p["name"] for p in manifest["parts"]]
    # the GGUF alone is ~94 MiB: three parts of at most 40 MiB, which add up to the whole
    assert names == ["p1", "p2", "p3"]
    assert all((d / "parts" / n / "kit.part").stat().st_size <= 40 * MiB for n in names)
    assert sum(p["bytes"] for p in manifest["parts"]) == manifest["bytes"]
    assert manifest["contents"]["gguf_sha256"] == sha256_file(default_gguf_path())
    joined = b"".join((d / "parts" / n / "kit.part").read_bytes() for n in names)
    with tarfile.open(fileobj=io.BytesIO(joined)) as tar:  # the pairs travel xz-compressed, the rest as is
        members = {m.name: m.size for m in tar.getmembers()}
    assert "pairs.jsonl" not in members and "pairs.jsonl.xz" in members
    assert members[f"{DEFAULT_PACKAGE}/{DEFAULT_GGUF}"] == default_gguf_path().stat().st_size

    home = tmp_path / "home"
    assert receive(d / "parts" / "p3", home)[1] == ["p1", "p2"]
    with pytest.raises(KitError, match="incomplete: part.s. p1, p2 not received"):
        unpack(home)
    bad = tmp_path / "p2"  # a part damaged on the way is refused and not kept
    shutil.copytree(d / "parts" / "p2", bad)
    with open(bad / "kit.part", "r+b") as f:
        f.seek(1000)
        f.write(b"\0\1\2\3")
    with pytest.raises(KitError, match="p2 is missing or corrupt"):
        receive(bad, home)
    assert missing_parts(home) == ["p1", "p2"]
    receive(d / "parts" / "p1", home)
    assert receive(d / "parts" / "p2", home)[1] == []

    root = unpack(home)
    assert sha256_file(root / DEFAULT_PACKAGE / DEFAULT_GGUF) == sha256_file(default_gguf_path())
    assert (root / "pairs.jsonl").read_bytes() == (d / "pairs.jsonl").read_bytes()
    assert not (root / "pairs.jsonl.xz").exists()
    assert (root / "dev" / "tinydev" / "qrels" / "test.tsv").is_file()
    stamp = (root / ".unpacked").stat().st_mtime_ns
    assert unpack(home) == root and (root / ".unpacked").stat().st_mtime_ns == stamp  # unpacked once


def _kit(args, home, **kw):
    env = dict(os.environ, SEARCHR3_KIT=str(home))
    return subprocess.run([sys.executable, "-m", "training.kit", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, **kw)


@pytest.mark.tiny  # starts a process
def test_a_training_run_inside_the_kit_uses_its_model_and_comes_back(kit, tmp_path):
    d, manifest = kit
    home, run, out = tmp_path / "home", tmp_path / "run", tmp_path / "out"
    for part in manifest["parts"]:
        done = _kit(["receive", str(d / "parts" / part["name"])], home)
        assert done.returncode == 0, done.stderr
    assert "3 of 3 parts here; complete" in done.stdout
    py = sys.executable
    where = f"import importlib.util as u; print('model from', u.find_spec('{DEFAULT_PACKAGE}').origin)"
    command = (f"{py} -c \"{where}\" && "
               f"{py} -m training.sft --data $KIT/pairs.jsonl --out {run} --init default --steps 1 --batch-size 2 "
               "--chunk-size 2 --negatives 1 --max-query-tokens 16 --max-document-tokens 24 --mixed-precision no "
               "--eval-data $KIT/dev/tinydev")
    done = _kit(["exec", "--collect", str(run), "--out", str(out), "--", command], home, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    # the model came from the kit (its own de-quantized cache too), not from the installed package
    assert f"model from {home / 'root' / DEFAULT_PACKAGE / '__init__.py'}" in done.stdout
    assert (home / "cache").is_dir()
    assert sorted(p.name for p in out.iterdir()) == ["adapter.tar", "config.json", "exec.log", "log.jsonl",
                                                     "loss.png", "summary.json"]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["steps"] == 1 and summary["pairs"] == 2 and 0 <= summary["eval"]["ndcg@10"] <= 1
    with tarfile.open(out / "adapter.tar") as tar:
        assert {"adapter/adapter_model.safetensors", "adapter/adapter_config.json"} <= set(tar.getnames())
    assert "model from" in (out / "exec.log").read_text()


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
