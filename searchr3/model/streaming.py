"""What a model writes in a worker thread (trace text, token ids), read as an iterator by the caller."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

T = TypeVar("T")
_END = object()


class Streamed(Generic[T]):
    """Runs ``work(put, cancel)`` in a daemon thread when iterated, and yields each value it
    ``put``s, in order, until it returns; its return value is then :attr:`result`, and an exception
    it raised is raised in the reader. Stopping early (leaving the ``for``, or :meth:`stop`) sets
    ``cancel``, which ``work`` should check now and then, and waits for the thread."""

    def __init__(self, work: Callable[[Callable[[T], None], threading.Event], Any]):
        self._work = work
        self.cancel = threading.Event()
        self.result: Any = None

    def stop(self) -> None:
        """Ask the worker to stop at its next check."""
        self.cancel.set()

    def __iter__(self) -> Iterator[T]:
        items: queue.SimpleQueue = queue.SimpleQueue()
        errors: list[BaseException] = []

        def run() -> None:
            try:
                self.result = self._work(items.put, self.cancel)
            except BaseException as exc:  # raised in the reader's thread below
                errors.append(exc)
            finally:
                items.put(_END)

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        try:
            while (item := items.get()) is not _END:
                yield item
        finally:  # also when the reader stops early: the worker ends at its next check
            self.cancel.set()
            thread.join()
        if errors:
            raise errors[0]
