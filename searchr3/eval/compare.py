"""``python -m searchr3.eval.compare A.json B.json [MORE.json ...] [--metric ndcg@10]``

Compares runs written by ``python -m searchr3.eval --json`` query by query: for each run after
the first, its mean against the first run's on the queries both scored, the difference with a 95%
paired bootstrap interval, wins / losses / ties, and a randomization p-value. A difference whose
interval holds 0 is within the dev set's luck.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

from searchr3.cli import print_error
from searchr3.errors import InvalidInputError
from searchr3.eval.metrics import METRICS
from searchr3.eval.paired import paired_difference


def read_scores(path: Path, metric: str) -> dict[str, float]:
    """The per-query ``metric`` of an eval JSON.

    Raises:
        InvalidInputError: no such file, not an eval JSON, or one written before per-query scores.
    """
    try:
        found = json.loads(path.read_text())
    except FileNotFoundError:
        raise InvalidInputError(f"no such file: {path}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"{path} is not JSON ({exc})") from None
    per_query = found.get("per_query") if isinstance(found, dict) else None
    if not isinstance(per_query, dict) or metric not in per_query:
        raise InvalidInputError(f"{path} has no per-query {metric}: write it with python -m searchr3.eval --json")
    return per_query[metric]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m searchr3.eval.compare",
                                 description="Paired comparison of eval runs on the same queries.")
    ap.add_argument("runs", type=Path, nargs="+", help="eval JSONs; the first is the baseline")
    ap.add_argument("--metric", choices=METRICS, default="ndcg@10")
    ap.add_argument("--samples", type=int, default=10_000, help="bootstrap and randomization resamples")
    args = ap.parse_args(argv)
    if len(args.runs) < 2:
        print_error(InvalidInputError("compare needs a baseline and at least one other run"))
        return 2
    if args.samples < 100:
        print_error(InvalidInputError(f"--samples must be at least 100, not {args.samples}"))
        return 2
    try:
        base = read_scores(args.runs[0], args.metric)
        others = [(path, read_scores(path, args.metric)) for path in args.runs[1:]]
        rows = [(path, paired_difference(base, scores, args.samples)) for path, scores in others]
    except (InvalidInputError, ValueError) as exc:
        print_error(exc)
        return 2
    table = Table(title=f"{args.metric}: each run against {args.runs[0]}")
    for name in ("run", "queries", "baseline", "run mean", "difference", "95% interval", "wins/losses/ties", "p"):
        table.add_column(name, justify="left" if name == "run" else "right")
    for path, d in rows:
        table.add_row(str(path), str(d.n), f"{d.mean_a:.4f}", f"{d.mean_b:.4f}", f"{d.delta:+.4f}",
                      f"[{d.ci_low:+.4f}, {d.ci_high:+.4f}]", f"{d.wins}/{d.losses}/{d.ties}", d.p_text)
    Console(width=200).print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
