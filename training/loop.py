"""What both training stages share: the accelerator and the step loop with its log, curves
and checkpoints."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from pathlib import Path

import torch

from searchr3.model.adapter import save_adapter

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
    ``base_id`` and ``step``, and implement :meth:`train_step` (returning a log row).
    ``total_steps`` is where the run ends: ``config.steps``, or fewer once ``fit_schedule``
    has timed the first steps against ``max_minutes`` (a schedule reading it then ends there)."""

    curves = "loss.png"
    curve_keys: list[str] = []
    title = ""
    fit_after = 4  # steps timed before the schedule is fitted; the first (warm-up) only starts the clock
    fit_share = 0.95  # of the time left that the fitted steps may use
    clock = staticmethod(time.perf_counter)

    @property
    def total_steps(self) -> int:
        return getattr(self, "_total_steps", self.config.steps)

    @total_steps.setter
    def total_steps(self, value: int) -> None:
        self._total_steps = value

    def train_step(self) -> dict:
        raise NotImplementedError

    def optimize(self, model, cosine: bool = True) -> None:
        """Set ``model``, ``optimizer`` (AdamW over the trainable parameters, ``config.lr``) and
        ``scheduler`` (linear warm-up over ``config.warmup`` steps, then with ``cosine`` a cosine to 0
        at the run's end, :attr:`total_steps`; else flat), prepared by the accelerator."""
        params = [p for p in model.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(params, lr=self.config.lr, weight_decay=0.0)
        warmup = max(self.config.warmup, 1)

        def schedule(s: int) -> float:
            total = self.total_steps
            decay = 0.5 * (1 + math.cos(math.pi * min(s, total) / total)) if cosine else 1.0
            return min(1.0, (s + 1) / warmup) * decay

        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
        self.model, self.optimizer, self.scheduler = self.accelerator.prepare(model, optimizer, scheduler)

    @property
    def peft_model(self):
        return self.accelerator.unwrap_model(self.model)

    def save(self) -> Path:
        return save_checkpoint(self.out / "checkpoints", self.peft_model, self.optimizer, self.scheduler, self.step,
                               self.base_id, total_steps=self.total_steps)

    def resume(self) -> bool:
        """Continue from the newest checkpoint in ``OUT/checkpoints`` (its step and, if the schedule
        was fitted, its end); False when there is none."""
        found = latest_checkpoint(self.out / "checkpoints")
        if found is None:
            return False
        self.step, total = load_checkpoint(found, self.peft_model, self.optimizer, self.scheduler)
        self.total_steps = min(total or self.config.steps, self.config.steps)
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
        """Run until ``total_steps`` (or ``config.max_minutes``), logging each step to ``OUT/log.jsonl``."""
        log = self.out / "log.jsonl"
        self.out.mkdir(parents=True, exist_ok=True)
        timed = self.config.max_minutes > 0
        deadline = self.clock() + self.config.max_minutes * 60 if timed else math.inf
        ends: list[float] = []  # clock at the end of each step of this call
        while self.step < self.total_steps:
            if timed and self._agreed(self.clock() > deadline, max):
                self.checkpoint()
                break
            t0 = self.clock()
            row = self.train_step()
            ends.append(self.clock())
            row["seconds"] = ends[-1] - t0
            if len(ends) == self.fit_after + 1 and timed and self.config.fit_schedule:
                self._fit(ends, deadline)
                row["total_steps"] = self.total_steps
            if self.accelerator.is_main_process:
                with open(log, "a") as f:
                    f.write(json.dumps(row) + "\n")
            if progress:
                progress(row)
            if self.step % self.config.save_every == 0 or self.step == self.total_steps:
                self.checkpoint()

    def _fit(self, ends: list[float], deadline: float) -> None:
        """End the run at the step that fits in the time left, timed from the steps after the
        first (the same end in every process: the earliest any of them would choose)."""
        per_step = (ends[-1] - ends[0]) / (len(ends) - 1)
        fits = self.step + int(self.fit_share * (deadline - ends[-1]) / per_step)
        self.total_steps = self._agreed(max(self.step + 1, min(self.total_steps, fits)), min)

    def _agreed(self, value, reduce):
        """``reduce`` (min or max) of ``value`` over the processes: a decision all of them take."""
        if self.accelerator.num_processes == 1:
            return value
        values = self.accelerator.gather(torch.tensor([int(value)], device=self.accelerator.device))
        return type(value)(reduce(values.tolist()))
