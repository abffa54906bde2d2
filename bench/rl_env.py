"""The RL environment's local refresh against the exact alternative, on the same RL run.

Every step of a real RL run, after the rollouts and before the update (so every
environment sees the policy that produced them), each environment refreshes: the trainer's
own (region + drift band), a local one without the band, and an exact one that re-encodes
the whole corpus. All three rank the same rollout embeddings. Prints the time per step of
each and how often the positive's rank equals its rank under the full re-encode.

    python -m bench.rl_env --data data/pairs.jsonl [--steps 8] [--corpus-pairs 96] [--full-every 0]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from training.config import RLConfig
from training.pairs import load_pairs
from training.rewards import retrieval_reward
from training.rl_env import CorpusEnvironment
from training.rl_trainer import RLTrainer, Rollouts

EXACT = "exact (full re-encode)"


def environments(trainer: RLTrainer) -> dict[str, CorpusEnvironment]:
    """The environments compared beside the trainer's own; all start from its vectors."""
    c, env = trainer.config, trainer.env

    def like(**changes) -> CorpusEnvironment:
        kw = {"encode": env.encode, "n_docs": env.n_docs, "neighbours": c.neighbours, "candidates": c.candidates,
              "full_every": c.full_every, "band": c.band, "band_limit": c.band_limit, "vectors": env.vectors}
        return CorpusEnvironment(**(kw | changes))

    return {"local, region only": like(band=0.0), EXACT: like(full_every=1)}


def observer(envs: dict[str, CorpusEnvironment]):
    """Refresh every environment on a step's rollouts; each one's ranks, seconds and rows
    (the trainer's own first) go to the log row."""

    def observe(r: Rollouts) -> dict:
        out = {"trainer: region + drift band": {"seconds": r.refresh_seconds, "rows": len(r.refresh_rows),
                                                "full": r.refresh_full, "ranks": r.ranks.tolist()}}
        for name, env in envs.items():
            t0 = time.perf_counter()
            refresh = env.refresh(r.positives, r.vectors)
            out[name] = {"seconds": time.perf_counter() - t0, "rows": len(refresh.rows), "full": refresh.full,
                         "ranks": env.ranks(r.vectors, r.positives).tolist()}
        return {"envs": out}

    return observe


def run(args: argparse.Namespace) -> tuple[list[dict], int]:
    config = RLConfig(
        init=args.init,
        steps=args.steps,
        queries=args.queries,
        group=args.group,
        lr=args.lr,
        max_new_tokens=args.max_new_tokens,
        corpus_pairs=args.corpus_pairs,
        max_document_tokens=args.max_document_tokens,
        neighbours=args.neighbours,
        candidates=args.candidates,
        full_every=args.full_every,
        band=args.band,
        band_limit=args.band_limit,
        seed=args.seed,
    )
    with tempfile.TemporaryDirectory() as out:
        trainer = RLTrainer(config, load_pairs(args.data), Path(out))
        trainer.observers.append(observer(environments(trainer)))
        rows: list[dict] = []
        with Progress(console=Console(stderr=True)) as bar:
            task = bar.add_task("RL steps, local and exact refresh", total=args.steps)
            trainer.fit(lambda row: (rows.append(row), bar.advance(task)))
        return rows, len(trainer.corpus.docs)


def print_tables(rows: list[dict], n_docs: int, args: argparse.Namespace) -> None:
    console = Console(width=160)
    base = statistics.median(r["rollout_seconds"] - r["refresh_seconds"] + r["update_seconds"] for r in rows)
    exact = np.array([x for r in rows for x in r["envs"][EXACT]["ranks"]])
    table = Table(
        title=f"RL environment refresh: {n_docs} documents, {args.queries}x{args.group} rollouts/step, "
        f"{args.steps} steps, "
        + (f"full refresh every {args.full_every}" if args.full_every else "no full refresh")
        + " (medians; ranks over all rollouts)"
    )
    for col in ("refresh", "docs re-encoded/step", "refresh s/step", "RL step s", "x faster/step", "rank = exact",
                "mean |rank diff|", "mean 1/rank"):
        table.add_column(col, justify="right" if col != "refresh" else "left")
    exact_step = base + statistics.median(r["envs"][EXACT]["seconds"] for r in rows)
    for name in rows[0]["envs"]:
        steps = [r["envs"][name] for r in rows]
        ranks = np.array([x for s in steps for x in s["ranks"]])
        seconds = statistics.median(s["seconds"] for s in steps)
        table.add_row(
            name,
            f"{statistics.median(s['rows'] for s in steps):.0f}",
            f"{seconds:.2f}",
            f"{base + seconds:.1f}",
            f"{exact_step / (base + seconds):.2f}",
            f"{np.mean(ranks == exact):.1%}",
            f"{np.mean(np.abs(ranks - exact)):.3f}",
            f"{retrieval_reward(ranks).mean():.4f}",
        )
    console.print(table)
    console.print(f"rollouts + update take {base:.1f} s per step whatever the refresh; {len(exact)} rollouts compared")
    per_step = Table(title="per step: docs re-encoded / rank = exact")
    per_step.add_column("step", justify="right")
    for name in rows[0]["envs"]:
        per_step.add_column(name, justify="right")
    per_step.add_column("kl", justify="right")
    for r in rows:
        ex = np.array(r["envs"][EXACT]["ranks"])
        per_step.add_row(
            str(r["step"]),
            *[f"{e['rows']} / {np.mean(np.array(e['ranks']) == ex):.0%}" for e in r["envs"].values()],
            f"{r['kl']:.5f}",
        )
    console.print(per_step)


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
    ap.add_argument("--max-document-tokens", type=int, default=128)
    ap.add_argument("--neighbours", type=int, default=4)
    ap.add_argument("--candidates", type=int, default=4)
    ap.add_argument("--band", type=float, default=1.0)
    ap.add_argument("--band-limit", type=int, default=16)
    ap.add_argument("--full-every", type=int, default=0, help="local environments' full refresh period (0: never)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rows, n_docs = run(args)
    print_tables(rows, n_docs, args)


if __name__ == "__main__":
    main()
