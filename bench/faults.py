"""Kill runs: SIGKILL ``python -m ingest`` mid-ingest and ``python -m app`` mid-upload at random
moments, again and again on the same embedded index, and after each kill run
``python -m ingest --check``. A run ends *coherent* when the check finds no damage (files the
killed run had not reached yet are simply not indexed; the next run finishes them). At the end
one normal ingest must leave the index sound against the whole folder.

    python -m bench.faults [--runs 8] [--files 40] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table

from bench.corpus import stdlib_passages
from bench.net import free_port, wait_for_http


def _check(db: Path, *folders: Path) -> dict:
    out = subprocess.run([sys.executable, "-m", "ingest", "--check", "--json", *map(str, folders), "--db", str(db)],
                         capture_output=True, text=True)
    return json.loads(out.stdout) if out.stdout.strip() else {"ok": False, "problems": [{"kind": out.stderr.strip()}]}


def _kinds(report: dict) -> str:
    return ", ".join(sorted({p["kind"] for p in report.get("problems", [])})) or "-"


def kill_ingest(db: Path, docs: Path, delay: float) -> dict:
    proc = subprocess.Popen([sys.executable, "-m", "ingest", str(docs), "--db", str(db)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(delay)
    finished = proc.poll() is not None
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    return {"finished_first": finished, "report": _check(db)}


def kill_app_upload(db: Path, uploads: list[Path], delay: float) -> dict:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "app", "--db", str(db), "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_http(f"http://127.0.0.1:{port}/v1/models", proc, timeout=300)
    files = [("files", (p.name, p.read_bytes(), "text/plain")) for p in uploads]

    def upload() -> None:
        try:
            httpx.post(f"http://127.0.0.1:{port}/v1/collections/documents/files", files=files, timeout=600)
        except httpx.HTTPError:
            pass  # the server was killed under it

    sender = threading.Thread(target=upload)
    sender.start()
    time.sleep(delay)
    finished = not sender.is_alive()
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    sender.join()
    return {"finished_first": finished, "report": _check(db)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=8, help="kills of each kind")
    ap.add_argument("--files", type=int, default=40)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    from searchr3 import Embedder

    rng = random.Random(args.seed)
    console = Console(stderr=True)
    rows = []
    with tempfile.TemporaryDirectory(prefix="searchr3-faults-") as tmp:
        docs, db = Path(tmp) / "docs", Path(tmp) / "db"
        docs.mkdir()
        texts = stdlib_passages(Embedder.shared().tokenizer, args.files * 2, 200)
        for i, text in enumerate(texts[: args.files]):
            (docs / f"doc{i:03d}.txt").write_text(text)
        uploads = [Path(tmp) / f"up{i:03d}.txt" for i in range(len(texts) - args.files)]
        for run in range(args.runs):
            delay = rng.uniform(3, 15)  # model load takes ~3 s: kills land before, during and after writes
            with console.status(f"ingest kill {run + 1}/{args.runs} at {delay:.1f} s"):
                rows.append(("ingest", delay, kill_ingest(db, docs, delay)))
        for run in range(args.runs):
            for path, text in zip(uploads, texts[args.files :]):  # new content each run: all of it to embed
                path.write_text(f"Upload {run}. {text}")
            delay = rng.uniform(0.2, 6)
            with console.status(f"upload kill {run + 1}/{args.runs} at {delay:.1f} s"):
                rows.append(("app upload", delay, kill_app_upload(db, uploads, delay)))
        subprocess.run([sys.executable, "-m", "ingest", str(docs), "--db", str(db)], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        final = _check(db, docs)

    table = Table(title="SIGKILL at a random moment, then python -m ingest --check")
    for col in ("killed", "at s", "had finished", "coherent", "problems"):
        table.add_column(col)
    for kind, delay, r in rows:
        table.add_row(kind, f"{delay:.1f}", "yes" if r["finished_first"] else "no",
                      "yes" if r["report"].get("ok") else "[red]no[/red]", _kinds(r["report"]))
    Console(width=130).print(table)
    for kind in ("ingest", "app upload"):
        mine = [r for k, _, r in rows if k == kind]
        print(f"{kind}: {sum(r['report'].get('ok', False) for r in mine)}/{len(mine)} kills left a coherent index")
    print(f"after a final normal ingest: {'sound' if final.get('ok') else 'NOT sound: ' + _kinds(final)}"
          f" ({final.get('chunks')} chunks, {final.get('files')} files)")
    return 0 if final.get("ok") and all(r["report"].get("ok") for _, _, r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
