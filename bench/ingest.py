"""Ingestion speed on a real folder by precision: files/s, chunks/s, and how time splits
between parsing (in a worker thread, ahead of the model), embedding and storing; "model
waited" is the parse time that was not hidden behind embedding. Default folder: the Python
documentation HTML from Debian's ``python3-doc`` package (``apt-get install python3-doc``).
Then the same folder through ``python -m ingest --json`` as a user runs it (wall time: start,
imports and model load included), and its no-op re-run. ``--ray`` adds runs on a local Ray
instance with 1 and 2 embedding workers (Ray's start is timed apart; each run's time includes
loading the model in its workers; "embed s" sums the workers' busy time, so with 2 workers it
can exceed the run's).

    python -m bench.ingest [--folder DIR] [--limit 40] [--chunk-tokens 256] [--precisions float32,auto]
                           [--no-cli] [--ray]
"""

from __future__ import annotations

import argparse
import glob
import shutil
import sys
import tempfile
from pathlib import Path

from rich.console import Console
from rich.table import Table

from searchr3 import Embedder, ModelConfig
from searchr3.index.vectors import IndexLocation, VectorIndex
from searchr3.ingestion.pipeline import Ingestor, Summary


def python_doc_folder() -> Path | None:
    found = ["/usr/share/doc/python3/html/library"] + sorted(glob.glob("/usr/share/doc/python3*/html/library"))
    return next((Path(p) for p in found if Path(p).is_dir()), None)


def ray_runs(subset: Path, work: Path, args, console: Console) -> list:
    """First runs on a local Ray instance, one per ``WORKERSxCPUS`` of ``--ray-runs``."""
    import time

    from searchr3.ingestion.distributed import RayCluster, RayIngestor, connect

    t0 = time.perf_counter()
    ray = connect(RayCluster(local_cpus=args.ray_cpus))
    cpus = int(ray.cluster_resources().get("CPU", 1))
    console.print(f"Ray started in {time.perf_counter() - t0:.1f} s with {cpus} CPUs")
    config = ModelConfig()
    embedder = Embedder.load(config)  # the driver's: tokenizer, fingerprint
    runs = []
    for workers, each in (tuple(map(int, run.split("x"))) for run in args.ray_runs.split(",")):
        if workers * each > cpus:
            continue
        db = IndexLocation.embedded(work / f"db-ray-{workers}x{each}")
        index = VectorIndex(db, embedder.fingerprint, embedder.dim)
        cluster = RayCluster(workers=workers, cpus=each)
        ingestor = RayIngestor(embedder, index, config, cluster, args.chunk_tokens)
        runs.append((f"ray: {workers} worker(s) × {each} CPU", ingestor.run([subset])))
    return runs


def cli_runs(subset: Path, work: Path, chunk_tokens: int) -> list:
    """``python -m ingest`` over ``subset`` into a fresh index, then again (nothing changed): each
    run's summary with ``seconds`` replaced by the command's wall time."""
    import json
    import subprocess
    import time

    runs = []
    for label in ("CLI `python -m ingest`: first (empty index)", "CLI: second (unchanged)"):
        t0 = time.perf_counter()
        out = subprocess.run([sys.executable, "-m", "ingest", str(subset), "--db", str(work / "db-cli"), "--json",
                              "--chunk-tokens", str(chunk_tokens)], capture_output=True, text=True, check=True)
        summary = Summary(**json.loads(out.stdout))
        summary.seconds = time.perf_counter() - t0
        runs.append((label, summary))
    return runs


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--folder", type=Path, default=None)
    ap.add_argument("--limit", type=int, default=40, help="first N files (sorted) of the folder")
    ap.add_argument("--chunk-tokens", type=int, default=256)
    ap.add_argument("--precisions", default="float32,auto", help="one fresh index per precision, in this order")
    ap.add_argument("--no-cli", dest="cli", action="store_false", help="skip the python -m ingest runs")
    ap.add_argument("--ray", action="store_true", help="then ingest on a local Ray instance (see --ray-runs)")
    ap.add_argument("--ray-runs", default="1x1,1x2,2x1", help="WORKERSxCPUS of each Ray run, in this order")
    ap.add_argument("--ray-cpus", type=int, default=None, help="CPUs of the local Ray instance (default: all)")
    args = ap.parse_args()
    folder = args.folder or python_doc_folder()
    if folder is None or not folder.is_dir():
        print("error: no folder given and python3-doc is not installed (apt-get install python3-doc)", file=sys.stderr)
        return 2
    files = sorted(p for p in folder.rglob("*.html") if p.is_file())[: args.limit]
    console = Console(width=140)
    work = Path(tempfile.mkdtemp(prefix="searchr3-bench-"))
    try:
        subset = work / "docs"
        subset.mkdir()
        for i, f in enumerate(files):
            shutil.copy(f, subset / f"{i:04d}-{f.name}")
        size_mb = sum(f.stat().st_size for f in files) / 1e6
        runs = []
        for precision in filter(None, args.precisions.split(",")):
            embedder = Embedder.load(ModelConfig(precision=precision))
            db = IndexLocation.embedded(work / f"db-{precision}")
            ingestor = Ingestor(embedder, VectorIndex(db, embedder.fingerprint, embedder.dim), args.chunk_tokens)
            name = f"{precision} ({embedder.loaded.precision})" if precision == "auto" else precision
            runs += [(f"{name}: first (empty index)", ingestor.run([subset]))]
            runs += [(f"{name}: second (unchanged)", ingestor.run([subset]))]
            del embedder, ingestor
        if args.cli:
            runs += cli_runs(subset, work, args.chunk_tokens)
        if args.ray:
            runs += ray_runs(subset, work, args, console)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    table = Table(
        title=f"ingest {len(files)} files ({size_mb:.1f} MB) from {folder}, chunks of {args.chunk_tokens} tokens"
    )
    columns = ("run", "files", "chunks", "seconds", "files/s", "chunks/s", "× first", "parse s", "model waited s",
               "embed s", "store s")
    for col in columns:
        table.add_column(col, justify="right" if col != "run" else "left")
    base_rate = runs[0][1].chunks_added / runs[0][1].seconds  # "× first": against the first row
    for label, s in runs:
        table.add_row(
            label,
            str(s.files_seen),
            str(s.chunks_added),
            f"{s.seconds:.1f}",
            f"{s.files_seen / s.seconds:.2f}",
            f"{s.chunks_added / s.seconds:.2f}",
            f"{s.chunks_added / s.seconds / base_rate:.2f}" if s.chunks_added else "",
            f"{s.seconds_parse:.1f}",
            "" if label.startswith("ray") else f"{s.seconds_waiting:.1f}",
            f"{s.seconds_embed:.1f}",
            f"{s.seconds_store:.1f}",
        )
    console.print(table)
    console.print(f"first-run failures: {runs[0][1].files_failed}; chunks in index: {runs[0][1].chunks_total}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
