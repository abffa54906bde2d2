"""Running a training stage from the command line: options, progress bar, export, summary.

``python -m training.sft``, ``python -m training.rl`` and ``python -m training.query`` are each
one :class:`Stage` handed to :func:`run_stage`. Errors (a bad option value, a missing pairs file
or adapter) are one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from searchr3.cli import print_error
from searchr3.errors import SearchR3Error

from .config import TrainingConfig
from .devset import evaluate_adapter
from .loop import TrainingLoop
from .options import add_config_args, config_from_args
from .pairs import Pair, load_pairs


@dataclass(frozen=True)
class Stage:
    """What differs between the training command lines.

    ``build(config, pairs, out)`` makes the trainer; ``info(row)`` is the progress bar's text
    for a log row; ``describe(trainer)`` adds to ``summary.json``; with ``eval_reasoning`` the
    dev set (``--eval-data``) is searched with a reasoning trace before each query;
    ``documents(trainer)`` names the adapter that reads the dev set's passages when the run trains
    only the query side; ``prepare(trainer, tick)`` runs once before training, under progress bars
    (``tick(phase, done, total)``). The command's description is the config class's docstring.
    """

    name: str  # "SFT" is run as ``python -m training.sft``
    config_cls: type[TrainingConfig]
    build: Callable[[TrainingConfig, list[Pair], Path], TrainingLoop]
    info: Callable[[dict], str]
    describe: Callable[[TrainingLoop], dict] = lambda trainer: {}
    eval_reasoning: bool = False
    documents: Callable[[TrainingLoop], Path | None] = lambda trainer: None  # reads the dev passages (None: the run's)
    prepare: Callable[[TrainingLoop, Callable[[str, int, int], None]], None] | None = None  # before the first step

    @property
    def prog(self) -> str:
        return f"python -m training.{self.name.lower()}"


def parse_args(stage: Stage, argv: list[str] | None) -> tuple[argparse.Namespace, TrainingConfig]:
    """``--data --out [--resume]`` plus every field of the stage's config; raises
    :class:`~training.config.ConfigError` for values that break a field's rules."""
    ap = argparse.ArgumentParser(prog=stage.prog, description=stage.config_cls.__doc__)
    ap.add_argument("--data", type=Path, required=True, metavar="PAIRS", help="pairs JSONL (python -m training.data)")
    ap.add_argument("--out", type=Path, required=True, metavar="DIR",
                    help="run folder: adapter/, checkpoints/, log.jsonl, curves, config.json, summary.json")
    ap.add_argument("--resume", action="store_true", help="continue from the newest checkpoint in OUT")
    add_config_args(ap, stage.config_cls)
    args = ap.parse_args(argv)
    return args, config_from_args(args, stage.config_cls)


def run_stage(stage: Stage, argv: list[str] | None = None) -> int:
    """Parse, load pairs, build the trainer, train under a progress bar, export the adapter,
    evaluate it on ``--eval-data``, and write ``OUT/summary.json``."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    console = Console(stderr=True)
    try:
        args, config = parse_args(stage, argv)
        pairs = load_pairs(args.data)
        with console.status(f"{stage.name}: loading the model"):
            trainer = stage.build(config, pairs, args.out)
    except SearchR3Error as exc:
        print_error(exc)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "config.json").write_text(json.dumps(asdict(config), indent=2))
    main_process = trainer.accelerator.is_main_process
    if stage.prepare is not None:
        try:
            columns = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                       TimeRemainingColumn())
            with Progress(*columns, console=console, disable=not main_process) as bar:
                tasks: dict[str, int] = {}

                def tick(phase: str, done: int, total: int) -> None:
                    if phase not in tasks:
                        tasks[phase] = bar.add_task(phase, total=total)
                    bar.update(tasks[phase], completed=done, total=total)

                stage.prepare(trainer, tick)
        except SearchR3Error as exc:
            print_error(exc)
            return 2
    if args.resume and trainer.resume():
        console.print(f"resumed at step {trainer.step}")
    started = time.perf_counter()
    with Progress(
        TextColumn(f"[bold]{stage.name}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[info]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=not main_process,
    ) as bar:
        task = bar.add_task(stage.name, total=trainer.total_steps, completed=trainer.step, info="")
        shown = lambda row: bar.update(task, total=trainer.total_steps, completed=row["step"], info=stage.info(row))  # noqa: E731
        trainer.fit(shown)
    if not main_process:
        return 0
    adapter = trainer.export()
    trained_on = getattr(trainer, "pairs", pairs)  # the pairs the trainer drew (training.query --pairs N)
    summary = {"pairs": len(trained_on), "steps": trainer.step, "total_steps": trainer.total_steps,
               "seconds": time.perf_counter() - started,
               "processes": trainer.accelerator.num_processes, "adapter": str(adapter), **stage.describe(trainer)}
    if config.eval_data:
        key = "eval_reasoning" if stage.eval_reasoning else "eval"
        summary[key] = evaluate_adapter(adapter, Path(config.eval_data), str(trainer.accelerator.device),
                                        reasoning=stage.eval_reasoning, model=config.model,
                                        documents=stage.documents(trainer))
        shown = {k: round(v, 4) for k, v in summary[key].items() if k != "model"}
        print(f"dev set{' + reasoning' if stage.eval_reasoning else ''}: {json.dumps(shown)}", file=sys.stderr)
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2))
    console.print(f"adapter: {adapter}  curves: {args.out / trainer.curves}")
    return 0
