"""Regenerate ``docs/results.md`` and ``docs/results.png`` from evaluation runs.

    python -m searchr3.eval.report --data data/pyfaq [--out docs] [--reuse] [--only LABEL ...]

Each row is one ``python -m searchr3.eval`` run; its JSON is kept in ``OUT/results/`` and,
with ``--reuse``, not run again. Rows for trained adapters appear once the adapter exists.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from ..cli import print_error
from ..config import ModelConfig
from ..errors import SearchR3Error
from .__main__ import evaluate_to_dict

REPO = Path(__file__).resolve().parents[2]
METRICS = ("ndcg@10", "recall@10", "recall@100", "mrr@10")


@dataclass(frozen=True)
class Row:
    label: str
    method: str
    adapter: str | None = None
    reasoning: bool = False

    @property
    def slug(self) -> str:
        return "".join(c if c.isalnum() else "-" for c in self.label.lower()).strip("-")


def stage_rows(stage: str, adapter: str) -> list[Row]:
    """Dense and reasoning rows of one trained adapter."""
    return [
        Row(f"Search-R3 {stage}", "searchr3", adapter),
        Row(f"Search-R3 {stage} + reasoning", "searchr3", adapter, True),
    ]


def default_rows() -> list[Row]:
    rows = [
        Row("BM25", "bm25"),
        Row("all-MiniLM-L6-v2", "minilm"),
        Row("Search-R3 untrained", "searchr3"),
        Row("Search-R3 untrained + reasoning", "searchr3", reasoning=True),
    ]
    for stage, folder in (("SFT", "sft"), ("SFT+RL", "rl")):
        adapter = REPO / "searchr3" / "adapters" / folder
        if (adapter / "adapter_config.json").is_file():
            rows += [*stage_rows(stage, str(adapter)), Row(f"Search-R3 {stage} hybrid", "hybrid", str(adapter))]
    return rows


def write_markdown(out: Path, results: list[tuple[Row, dict]], data: Path, stages: Sequence[str] = ()) -> None:
    first = results[0][1]["run"]
    lines = [
        "# Results",
        "",
        f"Python FAQ development set ({first['queries']} questions, {first['corpus']} answers as the corpus), "
        f"built by `python -m searchr3.eval.build pyfaq {data}` from Debian's `python3-doc`.",
        f"Regenerate: `python -m searchr3.eval.report --data {data}{''.join(f' --stage {s!r}' for s in stages)}` "
        "(add `--reuse` to keep finished rows). Reasoning rows use a greedy trace of at most 64 new tokens.",
        "",
        "| method | nDCG@10 | Recall@10 | Recall@100 | MRR@10 | ms/query | model |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for row, r in results:
        cells = " | ".join(f"{r[m]:.3f}" for m in METRICS)
        model = r["run"]["model"].replace("|", "\\|")  # a bare pipe would split the table cell
        lines.append(f"| {row.label} | {cells} | {r['timing']['ms_per_query']:.0f} | `{model}` |")
    lines += ["", "![nDCG@10 and Recall@10 by method](results.png)", ""]
    logs = [p.name for p in sorted((out / "training").glob("*")) if p.is_dir()] if (out / "training").is_dir() else []
    if logs:
        lines += [
            f"Training runs (configs, logs, curves, notes): {', '.join(f'[{n}](training/{n}/)' for n in logs)}.",
            "",
        ]
    (out / "results.md").write_text("\n".join(lines))


def write_chart(out: Path, results: list[tuple[Row, dict]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    labels = [row.label for row, _ in results]
    y = np.arange(len(labels))
    fig, ax = plt.subplots(figsize=(8, 0.5 * len(labels) + 1.5))
    for offset, metric in ((-0.2, "ndcg@10"), (0.2, "recall@10")):
        values = [r[metric] for _, r in results]
        bars = ax.barh(y + offset, values, height=0.4, label=metric)
        ax.bar_label(bars, fmt="%.3f", fontsize=8, padding=2)
    ax.set_yticks(y, labels)
    ax.invert_yaxis()
    ax.set_xlim(0, 1.08)
    ax.set_title("Python FAQ dev set")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.06), ncol=2, frameon=False)
    fig.tight_layout()
    fig.savefig(out / "results.png", dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m searchr3.eval.report", description="Regenerate docs/results.md and its chart."
    )
    ap.add_argument("--data", type=Path, default=Path("data/pyfaq"))
    ap.add_argument("--out", type=Path, default=REPO / "docs")
    ap.add_argument("--reuse", action="store_true", help="keep rows whose JSON already exists")
    ap.add_argument("--only", nargs="*", default=None, help="run only these row labels (others are reused)")
    ap.add_argument("--stage", action="append", default=[], metavar="LABEL=ADAPTER",
                    help="also evaluate this adapter (e.g. an RL run that is not shipped), with and without reasoning")
    args = ap.parse_args(argv)
    extra = []
    for spec in args.stage:
        label, sep, adapter = spec.partition("=")
        if not (sep and label and adapter):
            print_error(f"--stage wants LABEL=ADAPTER, not {spec!r}")
            return 2
        extra += stage_rows(label, adapter)
    console = Console(stderr=True)
    store = args.out / "results"
    store.mkdir(parents=True, exist_ok=True)
    results = []
    try:
        for row in default_rows() + extra:
            path = store / f"{row.slug}.json"
            skip = (args.reuse or (args.only is not None and row.label not in args.only)) and path.is_file()
            if not skip:
                console.print(f"[bold]{row.label}[/bold]")
                config = ModelConfig(adapter=row.adapter)
                path.write_text(
                    json.dumps(evaluate_to_dict(row.method, args.data, config, row.reasoning, None, console), indent=2)
                )
            results.append((row, json.loads(path.read_text())))
    except SearchR3Error as exc:
        print_error(exc)
        return 2
    write_markdown(args.out, results, args.data, args.stage)
    write_chart(args.out, results)
    console.print(f"wrote {args.out / 'results.md'} and {args.out / 'results.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
