"""Regenerate ``docs/results.md`` and ``docs/results.png`` from evaluation runs on every dev set.

    python -m searchr3.eval.report [--data NAME=DIR ...] [--out docs] [--reuse] [--only LABEL ...]

Each cell is one ``python -m searchr3.eval`` run of a method on a dev set; its JSON is kept in
``OUT/results/NAME/`` and, with ``--reuse``, not run again. A dev set whose folder is missing is
built first (``python -m searchr3.eval.build NAME DIR``). Rows for trained adapters appear once
the adapter exists; with ``--only``, rows neither named nor stored are left blank.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from searchr3.cli import print_error
from searchr3.config import ModelConfig
from searchr3.errors import SearchR3Error
from searchr3.eval.__main__ import evaluate_to_dict
from searchr3.eval.beir import write_beir
from searchr3.eval.build import BUILDERS
from searchr3.eval.metrics import METRICS
from searchr3.eval.paired import paired_difference

REPO = Path(__file__).resolve().parents[2]
BASELINE = "all-MiniLM-L6-v2"  # the row every other is compared with query by query
#: Caveats printed under the summary table: the items of this page's list.
NOTES_PAGE = REPO / "docs" / "results-notes.md"
#: The dev sets, in table order: name → (folder, what it is).
DEV_SETS = {
    "pyfaq": (Path("data/pyfaq"), "Python FAQ: real questions → answers (`python3-doc`)"),
    "perlfaq": (Path("data/perlfaq"), "Perl FAQ: real questions → answers (`perl-doc`)"),
    "manxl": (Path("data/manxl"), "German and French man-page summaries → English descriptions "
              "(`manpages-de`, `manpages-fr`; cross-lingual)"),
}


@dataclass(frozen=True)
class Row:
    label: str
    method: str
    adapter: str | None = None
    reasoning: bool = False
    query_adapter: str | None = None  # rows read queries with the document model unless they say so

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
        Row("all-mpnet-base-v2 (110 M, reference)", "mpnet"),
        Row("Search-R3 untrained", "searchr3"),
        Row("Search-R3 untrained + reasoning", "searchr3", reasoning=True),
    ]
    for stage, folder in (("SFT", "sft"), ("SFT+RL", "rl")):
        adapter = REPO / "searchr3" / "adapters" / folder
        if (adapter / "adapter_config.json").is_file():
            rows += [*stage_rows(stage, str(adapter)), Row(f"Search-R3 {stage} hybrid", "hybrid", str(adapter))]
    query = REPO / "searchr3" / "adapters" / "query"
    if (query / "adapter_config.json").is_file():
        rows.append(Row("Search-R3 SFT, queries by the query adapter (shipped default)", "searchr3",
                        str(REPO / "searchr3" / "adapters" / "sft"), query_adapter=str(query)))
    return rows


Results = dict[str, list[tuple[Row, dict | None]]]  # dev set → rows with their JSON (None: not run)


def footnotes(page: Path = NOTES_PAGE) -> list[str]:
    """The list items of ``page`` (``docs/results-notes.md``), each on one line."""
    return [line for line in page.read_text().splitlines() if line.startswith("- ")]


def write_markdown(out: Path, results: Results, folders: dict[str, Path], stages: Sequence[str] = ()) -> None:
    sets = list(results)
    lines = [
        "# Results",
        "",
        "Dev sets (built from Debian packages, never trained or tuned on; whole pages held out of training):",
        "",
    ]
    for name in sets:
        first = next((r for _, r in results[name] if r), None)
        size = f"{first['run']['queries']} queries, {first['run']['corpus']} passages" if first else "not run"
        about = DEV_SETS.get(name, (None, name))[1]
        lines.append(f"- **{name}** — {about}; {size}; `python -m searchr3.eval.build {name} {folders[name]}`.")
    data_args = "".join(f" --data {n}={folders[n]}" for n in sets)
    lines += [
        "",
        f"Regenerate: `python -m searchr3.eval.report{data_args}{''.join(f' --stage {s!r}' for s in stages)}` "
        "(add `--reuse` to keep finished cells). Reasoning rows use a greedy trace of at most 64 new tokens; "
        "— marks a cell not run.",
        "",
        "| method | " + " | ".join(f"{n} nDCG@10 | {n} R@10 | {n} MRR@10" for n in sets) + " |",
        "| --- |" + " ---: |" * (3 * len(sets)),
    ]
    labels = [row.label for row, _ in results[sets[0]]]
    for i, label in enumerate(labels):
        cells = []
        for name in sets:
            r = results[name][i][1]
            cells += [f"{r[m]:.3f}" if r else "—" for m in ("ndcg@10", "recall@10", "mrr@10")]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines += ["", *footnotes(), "", "![nDCG@10 by method and dev set](results.png)", ""]
    for name in sets:
        lines += [
            f"## {name}",
            "",
            "| method | nDCG@10 | Recall@10 | Recall@100 | MRR@10 | ms/query | model |",
            "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
        ]
        for row, r in results[name]:
            if r is None:
                continue
            cells = " | ".join(f"{r[m]:.3f}" for m in METRICS)
            model = r["run"]["model"].replace("|", "\\|")  # a bare pipe would split the table cell
            lines.append(f"| {row.label} | {cells} | {r['timing']['ms_per_query']:.0f} | `{model}` |")
        lines.append("")
    lines += paired_lines(results)
    logs = [p.name for p in sorted((out / "training").glob("*")) if p.is_dir()] if (out / "training").is_dir() else []
    if logs:
        lines += [
            f"Training runs (configs, logs, curves, notes): {', '.join(f'[{n}](training/{n}/)' for n in logs)}.",
            "",
        ]
    (out / "results.md").write_text("\n".join(lines))


def paired_lines(results: Results, baseline: str = BASELINE) -> list[str]:
    """A section comparing each row with ``baseline`` query by query (nDCG@10), for the cells
    whose JSONs hold per-query scores; none when no cell does."""
    table = []
    for name, rows in results.items():
        base = next((r for row, r in rows if row.label == baseline and r and "per_query" in r), None)
        for row, r in rows:
            if base is None or row.label == baseline or not r or "per_query" not in r:
                continue
            d = paired_difference(base["per_query"]["ndcg@10"], r["per_query"]["ndcg@10"])
            table.append(f"| {row.label} | {name} | {d.delta:+.3f} | [{d.ci_low:+.3f}, {d.ci_high:+.3f}] | "
                         f"{d.wins} / {d.losses} / {d.ties} | {d.p_text} |")
    if not table:
        return []
    return [
        f"## Query by query against {baseline}",
        "",
        f"nDCG@10 of a row minus {baseline}'s on the same questions, with a 95% paired bootstrap interval, "
        "the questions the row ranks better / worse / the same, and a sign-flip randomization p "
        "(`python -m searchr3.eval.compare`): an interval that holds 0 is within the luck of which questions "
        "a dev set holds. Only cells run with per-query scores (since 2026-12-02) appear.",
        "",
        "| method | dev set | difference | 95% interval | better / worse / same | p |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
        *table,
        "",
    ]


def write_chart(out: Path, results: Results) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import textwrap

    import matplotlib.pyplot as plt
    import numpy as np

    sets = list(results)
    labels = [textwrap.fill(row.label, 38) for row, _ in results[sets[0]]]  # long labels would squeeze the bars
    y = np.arange(len(labels))
    height = 0.8 / len(sets)
    fig, ax = plt.subplots(figsize=(10, 0.45 * len(labels) * len(sets) + 1.5))
    for k, name in enumerate(sets):
        values = [r["ndcg@10"] if r else 0.0 for _, r in results[name]]
        bars = ax.barh(y - 0.4 + height * (k + 0.5), values, height=height, label=name)
        ax.bar_label(bars, labels=[f"{v:.3f}" if r else "—" for v, (_, r) in zip(values, results[name])],
                     fontsize=7, padding=2)
    ax.set_yticks(y, labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, 1.08)
    ax.set_xlabel("nDCG@10")
    ax.set_title("nDCG@10 on the dev sets")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.08), ncol=len(sets), frameon=False)
    fig.tight_layout()
    fig.savefig(out / "results.png", dpi=120)
    plt.close(fig)


def dev_folder(name: str, folder: Path, console: Console) -> Path:
    """``folder``, built first by the named builder when it does not exist yet."""
    if not (folder / "queries.jsonl").is_file():
        if name not in BUILDERS:
            raise SearchR3Error(f"no dev set at {folder} (and no builder named {name!r})")
        console.print(f"building the {name} dev set into {folder}")
        write_beir(folder, BUILDERS[name]())
    return folder


def parse_sets(specs: list[str]) -> dict[str, Path]:
    """``NAME=DIR`` (or a known NAME alone) → folders; all of :data:`DEV_SETS` when none."""
    if not specs:
        return {name: folder for name, (folder, _) in DEV_SETS.items()}
    out = {}
    for spec in specs:
        name, sep, folder = spec.partition("=")
        if not sep and name in DEV_SETS:
            folder = str(DEV_SETS[name][0])
        elif not (sep and name and folder):
            raise SearchR3Error(f"--data wants NAME=DIR or one of {', '.join(DEV_SETS)}, not {spec!r}")
        out[name] = Path(folder)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m searchr3.eval.report", description="Regenerate docs/results.md and its chart."
    )
    ap.add_argument("--data", action="append", default=[], metavar="NAME=DIR",
                    help=f"a dev set (repeatable; default: {', '.join(DEV_SETS)} under data/)")
    ap.add_argument("--out", type=Path, default=REPO / "docs")
    ap.add_argument("--reuse", action="store_true", help="keep cells whose JSON already exists")
    ap.add_argument("--only", nargs="*", default=None,
                    help="run only these row labels (others are reused, or left blank when never run)")
    ap.add_argument("--stage", action="append", default=[], metavar="LABEL=ADAPTER",
                    help="also evaluate this adapter (e.g. an RL run that is not shipped), with and without reasoning")
    args = ap.parse_args(argv)
    console = Console(stderr=True)
    try:
        folders = parse_sets(args.data)
        extra = []
        for spec in args.stage:
            label, sep, adapter = spec.partition("=")
            if not (sep and label and adapter):
                raise SearchR3Error(f"--stage wants LABEL=ADAPTER, not {spec!r}")
            extra += stage_rows(label, adapter)
        results: Results = {}
        for name, folder in folders.items():
            dev_folder(name, folder, console)
            store = args.out / "results" / name
            store.mkdir(parents=True, exist_ok=True)
            results[name] = []
            for row in default_rows() + extra:
                path = store / f"{row.slug}.json"
                named = args.only is None or row.label in args.only
                if not path.is_file() and not named:
                    results[name].append((row, None))
                    continue
                if not (args.reuse and path.is_file()) and named:
                    console.print(f"[bold]{row.label}[/bold] on {name}")
                    config = ModelConfig(adapter=row.adapter, query_adapter=row.query_adapter)
                    found = evaluate_to_dict(row.method, folder, config, row.reasoning, None, console)
                    path.write_text(json.dumps(found, indent=2))
                results[name].append((row, json.loads(path.read_text())))
    except SearchR3Error as exc:
        print_error(exc)
        return 2
    write_markdown(args.out, results, folders, args.stage)
    write_chart(args.out, results)
    console.print(f"wrote {args.out / 'results.md'} and {args.out / 'results.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
