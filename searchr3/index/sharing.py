"""Sharing an embedded Chroma directory between processes.

Chroma's embedded mode keeps each collection's vector segment in the memory of the process
that opened it: another process's writes reach its metadata store (SQLite) at once, but not
its vector search, until the directory is opened afresh. This module keeps one client per
directory in each process and reopens it when the directory changed on disk since this
process last read or wrote it (one ``stat`` per operation; a reopen takes ~20 ms).

Two advisory file locks in the directory keep readers and writers apart:

- ``searchr3-writer.lock``: held by the one process allowed to write (for a whole ingestion
  or upload); a second writer is refused at once with :class:`IndexBusyError`, naming the
  holder. Concurrent writers belong on a Chroma server (``chroma run``).
- ``searchr3-io.lock``: shared while a process reads or reopens, exclusive while it writes one
  batch, so nobody loads vector files that are being rewritten.
"""

from __future__ import annotations

import fcntl
import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from searchr3.errors import IndexBusyError, SearchR3Error

WRITER_LOCK = "searchr3-writer.lock"
IO_LOCK = "searchr3-io.lock"
_WATCHED = ("chroma.sqlite3", "chroma.sqlite3-wal")


def disk_stamp(path: Path) -> tuple:
    """What changes when any process writes to the Chroma directory at ``path``."""
    stamp = []
    for name in _WATCHED:
        try:
            st = os.stat(path / name)
            stamp.append((name, st.st_mtime_ns, st.st_size, st.st_ino))
        except FileNotFoundError:
            pass
    return tuple(stamp)


def persistent_client(path: Path, label: str | None = None):
    """A new embedded Chroma client on ``path`` (created if missing; telemetry off); a failure is
    a :class:`SearchR3Error` naming ``label`` (default: the path)."""
    import chromadb

    try:
        path.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(path), settings=chromadb.Settings(anonymized_telemetry=False))
    except (ValueError, OSError, RuntimeError) as exc:
        raise SearchR3Error(f"cannot open the index at {label or path}: {str(exc).splitlines()[0]}") from exc


class _Directory:
    """This process's client for one directory, and what the disk looked like when it last knew."""

    def __init__(self, path: Path):
        self.path = path
        self.client = None
        self.epoch = 0  # bumped at every (re)open; collections opened in an older epoch are stale
        self.stamp: tuple = ()
        path.mkdir(parents=True, exist_ok=True)
        self._io = open(path / IO_LOCK, "a+")  # noqa: SIM115 (held for the life of the process)

    def _open(self) -> None:
        from chromadb.api.shared_system_client import SharedSystemClient

        stale = SharedSystemClient._identifier_to_system.pop(str(self.path), None)
        if stale is not None:
            stale.stop()
        self.client = persistent_client(self.path)
        self.epoch += 1
        self.stamp = disk_stamp(self.path)

    def current(self) -> None:
        """Reopen if the directory changed since this process last read or wrote it."""
        if self.client is None or disk_stamp(self.path) != self.stamp:
            self._open()

    @contextmanager
    def io(self, exclusive: bool) -> Iterator[None]:
        fcntl.flock(self._io, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(self._io, fcntl.LOCK_UN)


class EmbeddedClients:
    """One Chroma client per embedded directory in this process, kept fresh (see the module doc)."""

    def __init__(self):
        self._lock = threading.RLock()  # Chroma calls in this process run one at a time
        self._dirs: dict[Path, _Directory] = {}

    def _dir(self, path: Path) -> _Directory:
        path = Path(path).resolve()
        if path not in self._dirs:
            self._dirs[path] = _Directory(path)
        return self._dirs[path]

    @contextmanager
    def reading(self, path: Path) -> Iterator[_Directory]:
        """The directory's client, fresh, while nobody writes a batch."""
        with self._lock:
            d = self._dir(path)
            with d.io(exclusive=False):
                d.current()
                yield d

    @contextmanager
    def writing(self, path: Path) -> Iterator[_Directory]:
        """The directory's client, fresh, for one batch of writes; afterwards the disk's new
        state counts as seen (it is this process's own write)."""
        with self._lock:
            d = self._dir(path)
            with d.io(exclusive=True):
                d.current()
                try:
                    yield d
                finally:
                    d.stamp = disk_stamp(d.path)


CLIENTS = EmbeddedClients()


def process_label() -> str:
    """How this process was started, for messages to other processes (``python -m ingest ./docs``)."""
    argv = list(sys.argv) or ["python"]
    head = Path(argv[0])
    name = f"python -m {head.parent.name}" if head.name == "__main__.py" else head.name
    return " ".join([name, *argv[1:]])[:120]


@contextmanager
def sole_writer(path: Path, who: str) -> Iterator[None]:
    """Hold the writer lock of the directory at ``path`` for the block; raise
    :class:`IndexBusyError` at once if another process (or another writer here) holds it."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    with open(path / WRITER_LOCK, "a+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            holder = f.read().strip() or "another process"
            raise IndexBusyError(
                f"the index at {path} is being written by {holder}; try again when it finishes"
                " (for concurrent writers use a Chroma server: --chroma-host)"
            ) from None
        f.seek(0)
        f.truncate()
        f.write(f"pid {os.getpid()} ({who}, since {time.strftime('%H:%M:%S')})")
        f.flush()
        try:
            yield
        finally:
            f.seek(0)
            f.truncate()
            fcntl.flock(f, fcntl.LOCK_UN)
