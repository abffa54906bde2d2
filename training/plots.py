"""Curves of a training log (``log.jsonl``) as a PNG."""

from __future__ import annotations

import json
from pathlib import Path


def read_log(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def plot_curves(log: Path, out: Path, keys: list[str], title: str) -> Path | None:
    """One panel per key (raw values and a moving average) against the step."""
    rows = read_log(log)
    if not rows:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    keys = [k for k in keys if any(k in r for r in rows)]
    fig, axes = plt.subplots(1, len(keys), figsize=(3.2 * len(keys), 3), squeeze=False)
    for ax, key in zip(axes[0], keys):
        pts = [(r["step"], r[key]) for r in rows if key in r]
        steps, values = np.array([p[0] for p in pts]), np.array([p[1] for p in pts], dtype=float)
        ax.plot(steps, values, alpha=0.35, lw=0.8)
        w = max(1, len(values) // 20)
        if len(values) >= w > 1:
            ax.plot(steps[w - 1 :], np.convolve(values, np.ones(w) / w, mode="valid"), lw=1.6)
        ax.set_title(key, fontsize=9)
        ax.set_xlabel("step", fontsize=8)
        ax.tick_params(labelsize=7)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
