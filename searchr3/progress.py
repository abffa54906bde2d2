"""Progress of long jobs: rich bars on a terminal, plain lines in a log.

A rich bar draws nothing when its console is not a terminal (output sent to a file or a pipe,
a job under ``nohup``), so a long evaluation would stay silent until its end. Here the same
``tick(phase, done, total)`` draws one bar per phase on a terminal and, elsewhere, writes a
line each time a phase passes another tenth of its total.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

Tick = Callable[[str, int, int], None]


@contextmanager
def phase_progress(console: Console | None = None) -> Iterator[Tick]:
    """Yields ``tick(phase, done, total)``: report that ``done`` of ``total`` items of ``phase`` are
    finished. A terminal gets one bar per phase; any other output a line such as
    ``judging traces: 400/2000 (20%), 31 s`` at every tenth (and at the first and last tick)."""
    console = console or Console(stderr=True)
    if console.is_terminal:
        columns = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, console=console) as bar:
            tasks: dict[str, int] = {}

            def draw(phase: str, done: int, total: int) -> None:
                if phase not in tasks:
                    tasks[phase] = bar.add_task(phase, total=total)
                bar.update(tasks[phase], completed=done)

            yield draw
        return
    started = time.perf_counter()
    shown: dict[str, int] = {}

    def line(phase: str, done: int, total: int) -> None:
        tenth = 10 if total <= 0 else min(10, done * 10 // total)
        if tenth <= shown.get(phase, -1):
            return
        shown[phase] = tenth
        share = f" ({100 * done // total}%)" if total > 0 else ""
        console.print(f"{phase}: {done}/{total}{share}, {time.perf_counter() - started:.0f} s",
                      highlight=False, markup=False, soft_wrap=True)

    yield line


def counting(tick: Tick, phase: str, total: int) -> Callable[[int], None]:
    """``advance(n)`` for code that reports increments: ``tick`` with the running count."""
    done = 0

    def advance(n: int = 1) -> None:
        nonlocal done
        done += n
        tick(phase, done, total)

    return advance
