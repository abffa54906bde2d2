"""What both training stages share: the accelerator and the step loop with its log, curves
and checkpoints."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from pathlib import Path

import torch

from searchr3.adapter import save_adapter

from .checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint
from .plots import plot_curves


def make_accelerator(mixed_precision: str):
    """An ``accelerate.Accelerator``; ``"auto"`` means bf16 on CUDA, full precision elsewhere.

    Without CUDA it is a CPU accelerator, so processes started by ``accelerate launch
    --multi_gpu --num_processes N`` (torchrun) train as one job over gloo."""
    from accelerate import Accelerator

    cuda = torch.cuda.is_available()
    if mixed_precision == "auto":
        mixed_precision = "bf16" if cuda and torch.cuda.is_bf16_supported() else "no"
    # every process takes its share of each batch itself: one scheduler step per training step
    return Accelerator(mixed_precision=mixed_precision, cpu=not cuda, step_scheduler_with_optimizer=False)


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
        return save_checkpoint(
            self.out / "checkpoints", self.peft_model, self.optimizer, self.scheduler, self.step, self.base_id
        )

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
