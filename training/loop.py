"""What both training stages share: the accelerator, the step loop with its log, curves and
checkpoints, and the command line around it (options, progress bar, export, summary)."""

from __future__ import annotations

import argparse
import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import torch

from searchr3.cli import print_error
from searchr3.errors import SearchR3Error
from searchr3.loading import save_adapter

from .checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint
from .options import add_config_args, config_from_args
from .pairs import Pair, load_pairs
from .plots import plot_curves


def make_accelerator(mixed_precision: str):
    """An ``accelerate.Accelerator``; ``"auto"`` means bf16 on CUDA, full precision elsewhere."""
    from accelerate import Accelerator

    if mixed_precision == "auto":
        mixed_precision = "bf16" if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else "no"
    return Accelerator(mixed_precision=mixed_precision)


class TrainingLoop:
    """Step loop of a LoRA trainer. Subclasses set ``model``, ``optimizer``, ``scheduler``,
    ``accelerator``, ``config`` (with ``steps``, ``save_every``, ``max_minutes``), ``out``,
    ``base_id`` and ``step``, and implement :meth:`train_step` (returning a log row)."""

    curves = "loss.png"
    curve_keys: list[str] = []
    title = ""

    def train_step(self) -> dict:
        raise NotImplementedError

    @property
    def peft_model(self):
        return self.accelerator.unwrap_model(self.model)

    def save(self) -> Path:
        return save_checkpoint(self.out / "checkpoints", self.peft_model, self.optimizer, self.scheduler, self.step, self.base_id)

    def resume(self) -> bool:
        """Continue from the newest checkpoint in ``OUT/checkpoints``; False when there is none."""
        found = latest_checkpoint(self.out / "checkpoints")
        if found is None:
            return False
        self.step = load_checkpoint(found, self.peft_model, self.optimizer, self.scheduler)
        return True

    def export(self) -> Path:
        """The final adapter in ``OUT/adapter`` (a few MB), loadable with ``--adapter``."""
        return save_adapter(self.peft_model, self.out / "adapter", self.base_id)

    def checkpoint(self) -> None:
        if self.accelerator.is_main_process:
            self.save()
            plot_curves(self.out / "log.jsonl", self.out / self.curves, self.curve_keys, self.title)
        self.accelerator.wait_for_everyone()

    def fit(self, progress: Callable[[dict], None] | None = None) -> None:
        """Run until ``config.steps`` (or ``config.max_minutes``), logging each step to ``OUT/log.jsonl``."""
        log = self.out / "log.jsonl"
        self.out.mkdir(parents=True, exist_ok=True)
        deadline = time.perf_counter() + self.config.max_minutes * 60 if self.config.max_minutes > 0 else math.inf
        while self.step < self.config.steps:
            if time.perf_counter() > deadline:
                self.checkpoint()
                break
            t0 = time.perf_counter()
            row = self.train_step()
            row["seconds"] = time.perf_counter() - t0
            if self.accelerator.is_main_process:
                with open(log, "a") as f:
                    f.write(json.dumps(row) + "\n")
            if progress:
                progress(row)
            if self.step % self.config.save_every == 0 or self.step == self.config.steps:
                self.checkpoint()


def parse_args(argv: list[str] | None, prog: str, description: str, config_cls):
    """``--data --out [--resume]`` plus every field of ``config_cls``; returns (args, config)."""
    ap = argparse.ArgumentParser(prog=prog, description=description)
    ap.add_argument("--data", type=Path, required=True, help="pairs JSONL (python -m training.data)")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--resume", action="store_true", help="continue from the newest checkpoint in OUT")
    add_config_args(ap, config_cls)
    args = ap.parse_args(argv)
    return args, config_from_args(args, config_cls)


def run_cli(args, config, build: Callable[[list[Pair]], TrainingLoop], name: str, info: Callable[[dict], str],
            finish: Callable[[TrainingLoop, Path, dict], None]) -> int:
    """Load pairs, build the trainer, train under a progress bar, export, then ``finish``
    (adds to the summary) and write ``OUT/summary.json``. Errors: one line, exit 2."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    console = Console(stderr=True)
    try:
        pairs = load_pairs(args.data)
        with console.status(f"{name}: loading the model"):
            trainer = build(pairs)
    except SearchR3Error as exc:
        print_error(exc)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "config.json").write_text(json.dumps(asdict(config), indent=2))
    if args.resume and trainer.resume():
        console.print(f"resumed at step {trainer.step}")
    started = time.perf_counter()
    main_process = trainer.accelerator.is_main_process
    with Progress(TextColumn(f"[bold]{name}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[info]}"),
                  TimeElapsedColumn(), TimeRemainingColumn(), console=console, disable=not main_process) as bar:
        task = bar.add_task(name, total=config.steps, completed=trainer.step, info="")
        trainer.fit(lambda row: bar.update(task, completed=row["step"], info=info(row)))
    if not main_process:
        return 0
    adapter = trainer.export()
    summary = {"pairs": len(pairs), "steps": trainer.step, "seconds": time.perf_counter() - started, "adapter": str(adapter)}
    finish(trainer, adapter, summary)
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2))
    console.print(f"adapter: {adapter}  curves: {args.out / trainer.curves}")
    return 0
