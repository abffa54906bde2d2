"""Keeping an index in step with folders as their files change (``python -m ingest DIR --watch``).

File events (watchdog) are collected until the folders have been quiet for ``quiet`` seconds, so
a burst of saves becomes one update. Each update is an ordinary incremental run over the files
that changed (unchanged content is skipped by hash, ids come from content: no duplicates, and a
kill is finished by the next run), then the chunks of files deleted under the folders are
dropped. While another process is writing, the update waits and is tried again.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from searchr3.errors import IndexBusyError
from searchr3.ingestion.loaders import is_supported
from searchr3.ingestion.pipeline import Ingestor, Summary, collect_files


def _visible(path: Path, folders: Sequence[Path]) -> bool:
    """Under a watched folder and not inside a dot-file or dot-folder (as a normal run sees files)."""
    for folder in folders:
        if path == folder or folder in path.parents:
            return not any(part.startswith(".") for part in path.relative_to(folder).parts)
    return False


class FolderWatcher:
    """Applies changes under ``folders`` to ``ingestor``'s index; :meth:`run` until ``stop`` is set.

    ``on_update(summary, removed)`` hears every update (for a CLI to print).
    """

    def __init__(self, ingestor: Ingestor, folders: Sequence[str | Path], quiet: float = 1.0,
                 on_update: Callable[[Summary, int], None] | None = None):
        self.ingestor = ingestor
        self.folders = [Path(f).expanduser().resolve() for f in folders]
        self.quiet = quiet
        self.on_update = on_update or (lambda summary, removed: None)
        self._pending: set[Path] = set()
        self._last_event = 0.0
        self._lock = threading.Lock()

    def note(self, *paths: str | Path) -> None:
        """Record that ``paths`` changed (created, modified, deleted or moved away or here)."""
        with self._lock:
            for raw in paths:
                path = Path(raw).resolve()
                if _visible(path, self.folders):
                    self._pending.add(path)
            self._last_event = time.monotonic()

    def update(self, paths: set[Path]) -> tuple[Summary, int]:
        """Index the changed files that exist and are supported; drop chunks of deleted files."""
        files = [p for p in paths if p.is_file() and is_supported(p)]
        dirs = [p for p in paths if p.is_dir()]  # a folder moved in: everything under it
        if dirs:
            files += collect_files(dirs)[0]
        summary = self.ingestor.run(sorted(set(files))) if files else Summary()
        removed = self.ingestor.prune(under=self.folders) if dirs or any(not p.exists() for p in paths) else 0
        return summary, removed

    def run(self, stop: threading.Event, poll: float = 0.2, on_ready: Callable[[], None] | None = None) -> None:
        """Watch until ``stop`` is set; each quiet spell after events triggers one :meth:`update`.
        ``on_ready`` is called once events are being received; a first update then covers
        whatever changed before that."""
        from watchdog.events import FileSystemEventHandler
        from watchdog.observers import Observer

        watcher = self

        class Handler(FileSystemEventHandler):
            def on_any_event(self, event) -> None:
                if event.event_type in ("opened", "closed_no_write"):
                    return
                if event.is_directory and event.event_type == "modified":
                    return  # a folder's listing changed: its files' own events say which
                watcher.note(*(p for p in (event.src_path, getattr(event, "dest_path", "")) if p))

        observer = Observer()
        for folder in self.folders:
            observer.schedule(Handler(), str(folder), recursive=True)
        observer.start()
        self.note(*self.folders)  # changes made before the observer started
        if on_ready:
            on_ready()
        try:
            while not stop.wait(poll):
                with self._lock:
                    due = self._pending and time.monotonic() - self._last_event >= self.quiet
                    batch, self._pending = (self._pending, set()) if due else (set(), self._pending)
                if not batch:
                    continue
                try:
                    summary, removed = self.update(batch)
                except (IndexBusyError, FileNotFoundError):  # another writer, or a file gone mid-update
                    self.note(*batch)
                    continue
                self.on_update(summary, removed)
        finally:
            observer.stop()
            observer.join()
