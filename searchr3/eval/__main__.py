"""``python -m searchr3.eval --data DIR --method METHOD [--reasoning] [--json OUT]``

Prints nDCG@10, Recall@10, Recall@100 and MRR@10 on a BEIR-layout folder, and writes them
(keys ``ndcg@10``, ``recall@10``, ``recall@100``, ``mrr@10``) with timings and each query's
scores (``per_query``, read by ``python -m searchr3.eval.compare``) to JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

from searchr3.cli import add_model_args, model_config, print_error
from searchr3.config import ModelConfig
from searchr3.errors import SearchR3Error
from searchr3.eval.beir import load_beir
from searchr3.eval.methods import METHODS, run_method
from searchr3.eval.metrics import averages, per_query
from searchr3.progress import phase_progress


def evaluate_to_dict(
    method: str, data_dir: Path, config: ModelConfig, reasoning: bool, limit: int | None, console: Console
) -> dict:
    """Run one method on one folder; return metrics, timing and provenance."""
    data = load_beir(data_dir)
    if limit:
        keep = list(data.qrels)[:limit]
        data.qrels = {q: data.qrels[q] for q in keep}
        data.queries = {q: data.queries[q] for q in keep}
    with phase_progress(console) as tick:
        run = run_method(method, data, config, reasoning, tick)
    scores = per_query(run.rankings, data.qrels)
    n = len(data.queries)
    return {
        **averages(scores),
        "timing": {
            "index_seconds": run.seconds_index,
            "query_seconds": run.seconds_queries,
            "ms_per_query": 1000 * run.seconds_queries / max(n, 1),
        },
        "run": {"method": method, "reasoning": reasoning, "model": run.model, "data": str(data_dir),
                "queries": n, "corpus": len(data.corpus)},
        "traces": dict(list(run.traces.items())[:5]),
        "per_query": scores,  # for paired comparisons (searchr3.eval.compare)
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m searchr3.eval", description="Evaluate retrieval on a BEIR-layout folder."
    )
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--method", choices=METHODS, required=True)
    ap.add_argument("--reasoning", action="store_true", help="searchr3/hybrid: reason before embedding each query")
    add_model_args(ap)
    ap.add_argument("--json", type=Path, default=None, help="write the results here")
    ap.add_argument("--limit", type=int, default=None, help="evaluate the first N queries only")
    args = ap.parse_args(argv)
    console = Console(stderr=True)
    try:
        result = evaluate_to_dict(args.method, args.data, model_config(args), args.reasoning, args.limit, console)
    except (SearchR3Error, ValueError) as exc:
        print_error(exc)
        return 2
    table = Table(
        title=(
            f"{args.method}{' + reasoning' if args.reasoning else ''} on {args.data}"
            f" ({result['run']['queries']} queries, {result['run']['corpus']} docs)"
        )
    )
    for key in ("ndcg@10", "recall@10", "recall@100", "mrr@10"):
        table.add_column(key, justify="right")
    table.add_column("ms/query", justify="right")
    table.add_row(
        *(f"{result[k]:.4f}" for k in ("ndcg@10", "recall@10", "recall@100", "mrr@10")),
        f"{result['timing']['ms_per_query']:.1f}",
    )
    Console().print(table)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
