"""The RL environment's local refresh against the exact alternative, on the same RL run.

Every step of a real RL run (the policy is updated, so document vectors drift), the
trainer's environment refreshes only the batch's region, while a shadow environment
re-encodes the whole corpus. Both rank the same rollout embeddings. Prints the time per
step of each and how often the positive's rank under the local refresh equals its rank
under the full re-encode.

    python -m bench.rl_env --data data/pairs.jsonl [--steps 8] [--corpus-pairs 96] [--full-every 0]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from training.pairs import load_pairs
from training.rl import RLConfig, RLTrainer
from training.rl_env import CorpusEnvironment


def run(args: argparse.Namespace) -> list[dict]:
    config = RLConfig(init=args.init, steps=args.steps, queries=args.queries, group=args.group, lr=args.lr,
                      max_new_tokens=args.max_new_tokens, corpus_pairs=args.corpus_pairs, max_doc_tokens=args.max_doc_tokens,
                      neighbours=args.neighbours, candidates=args.candidates, full_every=args.full_every, seed=args.seed)
    with tempfile.TemporaryDirectory() as out:
        trainer = RLTrainer(config, load_pairs(args.data), Path(out))
        # the exact environment starts from the same vectors and re-encodes everything every step
        trainer.shadow = CorpusEnvironment(trainer._encode_docs, len(trainer.corpus.docs), config.neighbours, config.candidates, 1)
        rows: list[dict] = []
        with Progress(console=Console(stderr=True)) as bar:
            task = bar.add_task("RL steps, local and exact refresh", total=args.steps)
            trainer.fit(lambda row: (rows.append(row), bar.advance(task)))  # fit times each step
        rows[0]["docs"] = len(trainer.corpus.docs)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=Path("data/pairs.jsonl"))
    ap.add_argument("--init", default="default", help="stage-1 adapter (default: the shipped one)")
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--queries", type=int, default=4)
    ap.add_argument("--group", type=int, default=4)
    ap.add_argument("--max-new-tokens", type=int, default=32)
    ap.add_argument("--lr", type=float, default=5e-5)
    ap.add_argument("--corpus-pairs", type=int, default=96)
    ap.add_argument("--max-doc-tokens", type=int, default=128)
    ap.add_argument("--neighbours", type=int, default=4)
    ap.add_argument("--candidates", type=int, default=4)
    ap.add_argument("--full-every", type=int, default=0, help="local environment's full refresh period (0: never)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rows = run(args)

    console = Console(width=150)
    local = [r for r in rows if not r["refresh_full"]]
    table = Table(title=f"RL environment refresh: {rows[0]['docs']} documents, {args.queries}x{args.group} rollouts/step, "
                        f"{args.steps} steps (medians)")
    for col in ("refresh", "docs re-encoded/step", "refresh s/step", "RL step s", "rank = exact", "mean |rank diff|", "mean 1/rank"):
        table.add_column(col, justify="right" if col != "refresh" else "left")
    rest = [r["seconds"] - r["refresh_seconds"] - r["exact_seconds"] for r in rows]  # rollout + update, shared
    loc_s = statistics.median(r["refresh_seconds"] for r in local)
    ex_s = statistics.median(r["exact_seconds"] for r in rows)
    base = statistics.median(rest)
    table.add_row("local (region only)", f"{statistics.median(r['refresh_rows'] for r in local):.0f}", f"{loc_s:.2f}",
                  f"{base + loc_s:.1f}", f"{np.mean([r['rank_equal'] for r in local]):.1%}",
                  f"{np.mean([r['rank_abs_diff'] for r in local]):.3f}", f"{np.mean([r['retrieval'] for r in rows]):.4f}")
    table.add_row("exact (full re-encode)", str(rows[0]["docs"]), f"{ex_s:.2f}", f"{base + ex_s:.1f}", "100.0%", "0.000",
                  f"{np.mean([r['exact_retrieval'] for r in rows]):.4f}")
    console.print(table)
    console.print(f"local refresh is {ex_s / loc_s:.1f}x faster per refresh; an RL step {(base + ex_s) / (base + loc_s):.2f}x faster "
                  f"(rollouts + update take {base:.1f} s either way)")
    per_step = Table(title="per step")
    for col in ("step", "local rows", "local s", "exact s", "rank = exact", "mean |rank diff|", "kl"):
        per_step.add_column(col, justify="right")
    for r in rows:
        per_step.add_row(str(r["step"]), str(r["refresh_rows"]), f"{r['refresh_seconds']:.2f}", f"{r['exact_seconds']:.2f}",
                         f"{r['rank_equal']:.1%}", f"{r['rank_abs_diff']:.3f}", f"{r['kl']:.5f}")
    console.print(per_step)


if __name__ == "__main__":
    main()
