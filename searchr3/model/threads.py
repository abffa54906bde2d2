"""Torch threads that fit the cores other processes leave free.

torch's intra-op threads meet at a barrier after every operation. When another process keeps a
core busy, one of our threads waits for its time slice at each barrier, and every operation
stalls: on 2 cores with one CPU-bound neighbour, a SmolLM2 batch of 32 passages took 26–51 s on
2 threads against 14 s on 1, and a small int8 product 8 ms against 0.03 ms. :class:`ThreadFit`
reads, every few seconds, how much CPU other processes used since it last looked (``/proc/stat``
less this process's own time) and sets torch's thread count to the cores left, at least one.
Where ``/proc`` cannot be read it changes nothing.
"""

from __future__ import annotations

import os
import threading
import time

import torch

_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _busy_ticks() -> int | None:
    """CPU ticks spent by every process so far (all cores: user, nice, system, irq, softirq, steal)."""
    try:
        with open("/proc/stat") as f:
            fields = f.readline().split()[1:]
    except OSError:
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[:8])
    return user + nice + system + irq + softirq + steal


def _own_ticks() -> int | None:
    """CPU ticks this process has spent so far (all its threads)."""
    try:
        t = os.times()
    except OSError:
        return None
    return int((t.user + t.system) * _TICKS)


class ThreadFit:
    """Keeps torch's intra-op threads at the cores others leave free (``cores`` at most), looked
    at no more often than every ``every`` seconds. Call :meth:`adjust` before heavy work."""

    def __init__(self, cores: int | None = None, every: float = 2.0):
        self.cores = cores or (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count())
        self.every = every
        self._last: tuple[float, int, int] | None = None
        self._lock = threading.Lock()
        self.pinned = False  # a count the user chose: never changed

    def others(self, now: float, busy: int, own: int) -> float | None:
        """Cores other processes used on average since the last look (``None`` on the first)."""
        if self._last is None:
            return None
        then, busy0, own0 = self._last
        elapsed = (now - then) * _TICKS
        return max(0.0, ((busy - busy0) - (own - own0)) / elapsed) if elapsed > 0 else None

    def adjust(self) -> int:
        """Set and return torch's thread count for the load seen since the last look."""
        with self._lock:
            now = time.monotonic()
            if self.pinned or (self._last is not None and now - self._last[0] < self.every):
                return torch.get_num_threads()
            busy, own = _busy_ticks(), _own_ticks()
            if busy is None or own is None:
                return torch.get_num_threads()
            others = self.others(now, busy, own)
            self._last = (now, busy, own)
            if others is None:
                return torch.get_num_threads()
            wanted = max(1, min(self.cores, round(self.cores - others)))
            if wanted != torch.get_num_threads():
                torch.set_num_threads(wanted)
            return wanted


_SHARED = ThreadFit()


def fit_threads() -> int:
    """:meth:`ThreadFit.adjust` on the process's one instance (torch's thread count is process-wide)."""
    return _SHARED.adjust()


def pin_threads(count: int) -> None:
    """Set torch's thread count to ``count`` and keep it there (``ModelConfig.threads``)."""
    torch.set_num_threads(count)
    _SHARED.pinned = True
