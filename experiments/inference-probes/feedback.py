"""Pseudo-relevance feedback on the shipped vectors: the query moved towards its k first passages.

    ./run python experiments/inference-probes/feedback.py      # seconds, from vectors.py's output

q' = unit(q) + b × mean of the unit vectors of the k passages the plain query ranks first (Rocchio
in vector space); prints nDCG@10 per dev set.
"""

import numpy as np
from vectors import DEV_SETS, OUT, scored, unit

from searchr3.eval.metrics import averages

SETTINGS = [(0, 0.0)] + [(k, b) for k in (1, 3, 5) for b in (0.1, 0.25, 0.5)]


def main() -> None:
    table: dict[tuple[int, float], list[float]] = {s: [] for s in SETTINGS}
    for name in DEV_SETS:
        z = np.load(OUT / f"{name}.npz")
        q, d = unit(z["q"]), unit(z["d"])
        first = np.argsort(-(q @ d.T), axis=1)
        for k, b in SETTINGS:
            moved = unit(q + b * d[first[:, :k]].mean(1)) if k else q
            table[(k, b)].append(averages(scored(name, moved @ d.T))["ndcg@10"])
    print("| k | b | " + " | ".join(DEV_SETS) + " |")
    print("| ---: | ---: |" + " ---: |" * len(DEV_SETS))
    for (k, b), vals in table.items():
        print(f"| {k or '— (shipped)'} | {b} | " + " | ".join(f"{v:.4f}" for v in vals) + " |")


if __name__ == "__main__":
    main()
