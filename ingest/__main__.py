"""``python -m ingest PATH...``: index documents, incrementally.
``python -m ingest --check [DIR...]`` / ``--repair``: verify an index (and repair it).
``python -m ingest --reembed``: re-embed a whole index for this model (after a model or adapter change).

Exit status: 0 when every file was indexed or unchanged (the index is sound), 1 when some file
failed, the rest indexed (problems found, or left after repair), 2 when nothing could be done
(bad path, model or index; another process writing), 130 on Ctrl-C (the index stays
consistent; the next run finishes the job).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from searchr3.cli import (
    add_index_args,
    add_model_args,
    exit_promptly,
    index_location,
    model_config,
    print_error,
    stop_on_sigterm,
)
from searchr3.errors import IndexNotFoundError, SearchR3Error
from searchr3.index.vectors import VectorIndex, stored_model
from searchr3.ingestion.check import Report, check, repair
from searchr3.ingestion.loaders import LOADERS
from searchr3.ingestion.pipeline import FileResult, Ingestor, Summary, unchanged_run, writer_lock
from searchr3.model.identity import expected_fingerprint

if TYPE_CHECKING:  # pragma: no cover
    from searchr3 import Embedder


class RichProgress:
    """Files and chunks bars on stderr: files done of all, with an estimate of the time left (by the
    bytes of the files done, a file counted as its chunks are stored); chunks stored of those known
    so far, with a chunks/s rate."""

    def __init__(self, console: Console):
        self.bar = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.fields[count]}"),
            TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TextColumn("{task.fields[left]}"),
            console=console, transient=False,
        )
        self.chunks_seen = 0
        self.sizes: dict[str, int] = {}
        self.total_bytes = 0
        self.done_bytes = 0.0
        self.files_done = 0
        self.current: tuple[int, int] = (0, 1)  # bytes and chunks of the file being stored
        self.counted = 0.0  # of its bytes, how many the bar has already counted

    def __enter__(self):
        self.bar.__enter__()
        return self

    def __exit__(self, *exc):
        return self.bar.__exit__(*exc)

    def files_planned(self, files: list[Path]) -> None:
        self.sizes = {str(f): max(1, f.stat().st_size) for f in files if f.exists()}
        self.total_bytes = sum(self.sizes.values())

    def start(self, files: int) -> None:
        self.n_files = files
        self.files = self.bar.add_task("files", total=max(self.total_bytes, 1), count=f"0/{files}", rate="", left="")
        self.chunks = self.bar.add_task("chunks", total=0, count="0/0", rate="", left="")

    def _advance_bytes(self, n: float) -> None:
        self.counted += n
        self.done_bytes = min(self.total_bytes, self.done_bytes + n)
        self.bar.update(self.files, completed=self.done_bytes, count=f"{self.files_done}/{self.n_files}")
        task = self.bar.tasks[self.files]
        if task.elapsed and self.total_bytes and self.done_bytes >= 0.02 * self.total_bytes:
            left = task.elapsed * (self.total_bytes - self.done_bytes) / self.done_bytes
            self.bar.update(self.files, left=f"~{_duration(left)} left")

    def file_started(self, path: Path, chunks: int) -> None:
        self.chunks_seen += chunks
        self.current, self.counted = (self.sizes.get(str(path), 0), max(chunks, 1)), 0.0
        task = self.bar.tasks[self.chunks]
        self.bar.update(self.chunks, total=self.chunks_seen, description=f"chunks ({path.name[:30]})",
                        count=f"{int(task.completed)}/{self.chunks_seen}")

    def chunks_done(self, n: int) -> None:
        self.bar.advance(self.chunks, n)
        task = self.bar.tasks[self.chunks]
        self.bar.update(self.chunks, count=f"{int(task.completed)}/{self.chunks_seen}")
        if task.elapsed:
            self.bar.update(self.chunks, rate=f"{task.completed / task.elapsed:.1f} chunks/s")
        size, chunks = self.current
        self._advance_bytes(size * n / chunks)

    def file_done(self, result: FileResult) -> None:
        self.files_done += 1
        self._advance_bytes(max(0.0, self.sizes.get(result.path, 0) - self.counted))  # the rest of its share
        self.current, self.counted = (0, 1), 0.0
        if result.status == "failed":
            print_failure(self.bar.console, result.path, result.error)


def print_failure(console: Console, path: str, error: str | None) -> None:
    """``failed PATH: ERROR`` on one line whatever the width: a log or a script finds the path whole."""
    console.print(f"[red]failed[/red] {escape(str(path))}: {escape(str(error))}", soft_wrap=True)


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m" if seconds >= 3600 else (
        f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s")


def _summary_table(s: Summary, where: str) -> Table:
    table = Table(title=f"ingested into {where}", show_header=False)
    for label, value in [
        ("files seen", s.files_seen),
        ("indexed", s.files_indexed),
        ("unchanged", s.files_unchanged),
        ("failed", s.files_failed),
        ("skipped (unsupported)", s.files_skipped),
        ("chunks added", s.chunks_added),
        ("chunks removed", s.chunks_removed),
        ("chunks in index", s.chunks_total),
        (
            "time",
            f"{s.seconds:.1f} s (parse {s.seconds_parse:.1f}, embed {s.seconds_embed:.1f},"
            f" store {s.seconds_store:.1f})",
        ),
    ]:
        table.add_row(label, str(value))
    return table


def _fail(message: object) -> int:
    """One plain line on stderr (never wrapped), exit status 2."""
    print_error(message)
    return 2


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        prog="python -m ingest", description="Index documents (.txt .md .rst .html .pdf .docx) for searchr3."
    )
    ap.add_argument("paths", nargs="*", metavar="PATH", help="files or folders (with --check: folders to compare)")
    add_index_args(ap)
    ap.add_argument("--prune", action="store_true", help="remove chunks of files that no longer exist")
    ap.add_argument("--watch", action="store_true",
                    help="after indexing, keep following the folders: added, changed and deleted files (Ctrl-C stops)")
    ap.add_argument("--ray", nargs="?", const="local", default=None, metavar="ADDRESS",
                    help="parse and embed on a Ray cluster (default: start a local one; needs searchr3[ray])")
    ap.add_argument("--ray-workers", type=int, default=None,
                    help="embedding actors on the cluster (default: one per GPU, else one per two CPUs)")
    ap.add_argument("--ray-cpus", type=float, default=1.0, help="CPUs (torch threads) each embedding actor holds")
    ap.add_argument("--check", action="store_true",
                    help="verify the index (vectors, chunks per file, orphans, BM25) instead of indexing")
    ap.add_argument("--repair", action="store_true", help="check, then fix what can be fixed, and check again")
    ap.add_argument("--reembed", action="store_true",
                    help="re-embed every stored chunk for this model (after a model or adapter change; "
                         "the old vectors serve until the new ones are complete)")
    ap.add_argument("--json", action="store_true", help="print a machine-readable summary on stdout")
    add_model_args(ap)
    ap.add_argument("--chunk-tokens", type=int, default=256)
    ap.add_argument("--overlap", type=int, default=32)
    return ap.parse_args(argv)


def _check_table(report: Report) -> Table:
    table = Table(show_header=False)
    table.add_row("chunks", str(report.chunks))
    table.add_row("files", str(report.files))
    for kind, n in sorted(report.counts().items()):
        table.add_row(kind.replace("_", " "), str(n))
    for line in report.repaired:
        table.add_row("repaired", line)
    return table


def run_check(args: argparse.Namespace, location, console: Console) -> int:
    """``--check`` / ``--repair``: 0 sound, 1 problems (left), 2 nothing could be done."""
    from searchr3 import Embedder

    try:
        embedder = Embedder.load(model_config(args))
        index = VectorIndex(location, embedder.fingerprint, embedder.dim, create=False)
        ingestor = Ingestor(embedder, index, args.chunk_tokens, args.overlap)
        folders = [Path(p).expanduser() for p in args.paths]
        with console.status("checking the index ..."):
            report = check(ingestor, folders)
        if args.repair and not report.ok:
            with console.status(f"repairing {len(report.problems)} problem(s) ..."):
                report = repair(ingestor, report, folders)
    except (SearchR3Error, ValueError) as exc:
        return _fail(exc)
    if args.json:
        print(json.dumps(report.as_dict(), indent=2))
    else:
        verdict = "[green]sound[/green]" if report.ok else f"[red]{len(report.problems)} problem(s)[/red]"
        console.print(f"check of {escape(report.location)}: {verdict}", soft_wrap=True)
        console.print(_check_table(report))
        for p in report.problems + report.notices:
            console.print(f"{p.kind}: {p.source or '(index)'}: {p.detail}", markup=False, highlight=False,
                          soft_wrap=True)
    return 0 if report.ok else 1


def run_reembed(args: argparse.Namespace, location, console: Console) -> int:
    """``--reembed``: 0 done (or nothing to do), 2 nothing could be done, 130 interrupted."""
    from searchr3 import Embedder
    from searchr3.ingestion.reembed import reembed

    try:
        embedder = Embedder.load(model_config(args))
        bar = Progress(TextColumn("[bold]re-embedding"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                       console=console)
        task = bar.add_task("chunks", total=None)

        def start(total: int) -> None:  # shown only once there is work (errors stay one line)
            bar.update(task, total=total)
            bar.start()

        try:
            done = reembed(embedder, location, on_start=start, on_chunks=lambda n: bar.advance(task, n))
        finally:
            if bar.live.is_started:
                bar.stop()
    except KeyboardInterrupt:
        print("interrupted: the index still holds its old vectors; run the same command again", file=sys.stderr)
        return 130
    except (SearchR3Error, ValueError) as exc:
        return _fail(exc)
    if args.json:
        print(json.dumps(done.as_dict(), indent=2))
    elif done.before == done.after:
        console.print(f"{escape(done.location)} already holds vectors of {escape(done.after)}: nothing to do",
                      soft_wrap=True)
    else:
        console.print(f"re-embedded {done.chunks} chunks at {escape(done.location)} in {done.seconds:.1f} s:"
                      f" {escape(done.before)} → {escape(done.after)}", soft_wrap=True)
    return 0


def nothing_to_do(args: argparse.Namespace, location) -> Summary | None:
    """The summary of a re-run that would change nothing, told from the index and the files
    without loading the model (a no-op re-run takes a second, not the model's load); ``None``
    when there is work, or when the index was built by another model than the one named."""
    fingerprint = expected_fingerprint(model_config(args))
    if fingerprint is None:
        return None
    try:
        stored, dim = stored_model(location)
    except IndexNotFoundError:
        return None
    if stored != fingerprint or not dim:
        return None
    index = VectorIndex(location, fingerprint, dim, create=False)
    with writer_lock(index):
        return unchanged_run(index, args.paths, prune=args.prune)


def _ingestor(args: argparse.Namespace, embedder: Embedder, index: VectorIndex) -> Ingestor:
    """The local ingestor, or with ``--ray`` the one that runs on a Ray cluster."""
    if args.ray is None:
        return Ingestor(embedder, index, args.chunk_tokens, args.overlap)
    from searchr3.ingestion.distributed import RayCluster, RayIngestor

    cluster = RayCluster(args.ray, args.ray_workers, args.ray_cpus)
    return RayIngestor(embedder, index, model_config(args), cluster, args.chunk_tokens, args.overlap)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    console = Console(stderr=True)
    missing = [p for p in args.paths if not Path(p).expanduser().exists()]
    if missing:
        return _fail(f"no such file or directory: {missing[0]}")
    location = index_location(args)
    if args.reembed and (args.paths or args.check or args.repair or args.watch or args.ray is not None):
        return _fail("--reembed works on the stored chunks alone: run it without paths, then ingest PATH as usual")
    if args.reembed:
        return run_reembed(args, location, console)
    if args.check or args.repair:
        return run_check(args, location, console)
    if not args.paths:
        return _fail("name the files or folders to index (or --check)")
    if args.ray is not None and args.watch:
        return _fail("--ray indexes a folder once; --watch runs locally")
    if args.watch and not all(Path(p).expanduser().is_dir() for p in args.paths):
        return _fail("--watch follows folders: name folders, not files")
    from searchr3 import Embedder

    try:
        summary = None if args.watch or args.ray is not None else nothing_to_do(args, location)
        for failure in summary.failures if summary else ():
            print_failure(console, failure["path"], failure["error"])
        if summary is None:
            embedder = Embedder.load(model_config(args))
            index = VectorIndex(location, embedder.fingerprint, embedder.dim)
            ingestor = _ingestor(args, embedder, index)
            with RichProgress(console) as progress:
                summary = ingestor.run(args.paths, prune=args.prune, progress=progress)
    except KeyboardInterrupt:
        print("interrupted: the index is consistent; run the same command again to finish", file=sys.stderr)
        return 130
    except (SearchR3Error, ValueError, FileNotFoundError) as exc:
        return _fail(exc)
    if args.json:
        print(json.dumps(summary.as_dict(), indent=2))
    else:
        console.print(_summary_table(summary, location.label))
        if summary.parser_warnings:
            console.print(parser_note(summary), markup=False, highlight=False, soft_wrap=True)
    if summary.files_seen == summary.files_skipped and not args.watch:
        console.print(_nothing_to_index(args.paths, summary.files_skipped), markup=False, highlight=False,
                      soft_wrap=True)
    if args.watch:
        return watch(ingestor, args.paths, console)
    return 1 if summary.files_failed else 0


def parser_note(summary: Summary) -> str:
    """The one line that stands for every warning the parsers read past."""
    n, files = summary.parser_warnings, summary.files_with_warnings
    return (f"note: the parsers read past {n} problem{'s' * (n != 1)} in {files} file{'s' * (files != 1)}"
            f" (first: {summary.first_warning}); the text they could read is indexed")


def _nothing_to_index(paths: list[str], skipped: int) -> str:
    """The warning for a run that found no document it can read."""
    others = f" ({skipped} other file{'s' * (skipped != 1)} skipped)" if skipped else ""
    return (f"warning: no documents to index in {', '.join(paths)}{others}; supported: "
            f"{' '.join(sorted(LOADERS))}")


def watch(ingestor: Ingestor, folders: list[str], console: Console) -> int:
    """``--watch``: follow the folders until Ctrl-C or SIGTERM (exit 0), one line per update."""
    import threading

    from searchr3.ingestion.watch import FolderWatcher

    def report(s: Summary, removed: int) -> None:
        console.print(
            f"updated: {s.files_indexed} indexed, {s.files_unchanged} unchanged, {s.files_failed} failed;"
            f" +{s.chunks_added} -{s.chunks_removed + removed} chunks ({ingestor.index.count()} in the index)",
            markup=False, highlight=False, soft_wrap=True,
        )
        for failure in s.failures:
            console.print(f"failed {failure['path']}: {failure['error']}", markup=False, highlight=False,
                          soft_wrap=True)

    stop_on_sigterm()
    watcher = FolderWatcher(ingestor, folders, on_update=report)
    removed = ingestor.prune(under=watcher.folders)  # deleted while nobody watched

    def ready() -> None:
        console.print(f"watching {', '.join(map(str, watcher.folders))} (removed {removed} chunks of deleted files;"
                      " Ctrl-C stops)", markup=False, highlight=False, soft_wrap=True)

    stop = threading.Event()
    try:
        watcher.run(stop, on_ready=ready)
    except KeyboardInterrupt:
        stop.set()
        console.print("stopped watching", markup=False)
    except SearchR3Error as exc:
        return _fail(exc)
    return 0


if __name__ == "__main__":
    exit_promptly(main())
