"""``python -m ingest PATH...``: index documents, incrementally.

Exit status: 0 when every file was indexed or unchanged, 1 when some file failed (the rest
were indexed), 2 when nothing could be done (bad path, model or index), 130 on Ctrl-C
(the index stays consistent; the next run finishes the job).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from searchr3 import Embedder, SearchR3Error
from searchr3.cli import add_index_args, add_model_args, index_location, model_config, print_error
from searchr3.index import VectorIndex
from searchr3.ingestion.pipeline import FileResult, Ingestor, Summary


class RichProgress:
    """Files and chunks bars with a chunks/s rate, on stderr."""

    def __init__(self, console: Console):
        self.bar = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), console=console, transient=False,
        )
        self.chunks_seen = 0

    def __enter__(self):
        self.bar.__enter__()
        return self

    def __exit__(self, *exc):
        return self.bar.__exit__(*exc)

    def start(self, files: int) -> None:
        self.files = self.bar.add_task("files", total=files, rate="")
        self.chunks = self.bar.add_task("chunks", total=0, rate="")

    def file_started(self, path: Path, chunks: int) -> None:
        self.chunks_seen += chunks
        self.bar.update(self.chunks, total=self.chunks_seen, description=f"chunks ({path.name[:30]})")

    def chunks_done(self, n: int) -> None:
        self.bar.advance(self.chunks, n)
        task = self.bar.tasks[self.chunks]
        if task.elapsed:
            self.bar.update(self.chunks, rate=f"{task.completed / task.elapsed:.1f} chunks/s")

    def file_done(self, result: FileResult) -> None:
        self.bar.advance(self.files)
        if result.status == "failed":
            self.bar.console.print(f"[red]failed[/red] {result.path}: {result.error}")


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
    ap.add_argument("paths", nargs="+", metavar="PATH", help="files or folders")
    add_index_args(ap)
    ap.add_argument("--prune", action="store_true", help="remove chunks of files that no longer exist")
    ap.add_argument("--json", action="store_true", help="print a machine-readable summary on stdout")
    add_model_args(ap)
    ap.add_argument("--chunk-tokens", type=int, default=256)
    ap.add_argument("--overlap", type=int, default=32)
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    console = Console(stderr=True)
    missing = [p for p in args.paths if not Path(p).expanduser().exists()]
    if missing:
        return _fail(f"no such file or directory: {missing[0]}")
    location = index_location(args)
    try:
        embedder = Embedder.load(model_config(args))
        index = VectorIndex(location, embedder.fingerprint, embedder.dim)
        ingestor = Ingestor(embedder, index, args.chunk_tokens, args.overlap)
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
    return 1 if summary.files_failed else 0


if __name__ == "__main__":
    sys.exit(main())
