"""The noise floor on the round's own samples: python experiments/rft-cpu/floor.py PLAIN FLOORED.

PLAIN is ``training.traces`` output without ``--noise-floor``, FLOORED the same command (same
seed, so the same samples) with it, on the first N pairs. Per query judged against the floor, its
best sample's gain (from PLAIN) beside the floor (the best gain of its sample mean moved by another
query's deviations), and a sign test of best > floor against the even split that pure spread gives.
"""

import json
import math
import sys
from collections import Counter
from statistics import median


def rows(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def main(plain_path, floored_path):
    floored = rows(floored_path)
    plain = rows(plain_path)[: len(floored)]
    assert [r["query"] for r in plain] == [r["query"] for r in floored]
    judged = [(p["trace_gain"], f["trace_floor"]) for p, f in zip(plain, floored) if "trace_floor" in f]
    above = sum(g > fl for g, fl in judged)
    n = len(judged)
    p = sum(math.comb(n, k) for k in range(above, n + 1)) / 2**n  # one-sided, best > floor half the time
    print(f"pairs {len(floored)}; sources without the floor {dict(Counter(r['trace_source'] for r in plain))}")
    print(f"sources with the floor {dict(Counter(r['trace_source'] for r in floored))}")
    print(f"queries judged against the floor {n}: best sample gain > floor in {above} ({above / n:.0%}), "
          f"sign test p = {p:.2g}")
    print(f"median best gain {median(g for g, _ in judged):+.4f}, median floor {median(fl for _, fl in judged):+.4f}; "
          f"floor > 0 in {sum(fl > 0 for _, fl in judged)}, best gain > 0 in {sum(g > 0 for g, _ in judged)}")
    kept = [r["trace_gain"] for r in floored if "trace" in r]
    unfloored = [r["trace_gain"] for r in plain if "trace" in r]
    print(f"kept {len(kept)} traces (without the floor {len(unfloored)}), "
          f"{sum(g > 0.02 for g in kept)} over 0.02 (without {sum(g > 0.02 for g in unfloored)})")


if __name__ == "__main__":
    main(*sys.argv[1:3])
