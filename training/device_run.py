"""The prepared run for a lent accelerator: stage 1 at scale, its trace-target continuation, then
GRPO, each on the clock, each stage's adapter sent back the moment it ends.

``python3 -m training.device_run --kit $KIT --out $OUT --minutes 5.5`` (inside ``training.kit
exec``, on the device) runs, in order of value:

1. ``stage1``: stage 1 (``training.sft``) on the kit's whole pair mix (``$KIT/pairs.jsonl``, its
   hard negatives mined on the CPU when the pairs were built) at batch ``--batch-size`` (128), from
   the shipped adapter;
2. ``traces``: the same, continued from stage 1's adapter on the pairs with trace targets
   (``$KIT/pairs-traces.jsonl``, ``python -m training.traces``; skipped when the kit has none);
3. ``rl``: GRPO (``training.rl --over-plain --min-plain-rank 2 --drop-flat``) from the last adapter.

Each stage gets its share of ``--minutes`` (``--shares``, 0.5 / 0.2 / 0.3) as ``--max-minutes
--fit-schedule`` (its cosine schedule ends when its time does; it checkpoints and exports), and a
hard limit of that plus the model's loading time. When a stage ends, its adapter, log, config,
summary and curves go to ``$OUT/STAGE.tar`` and ``$OUT/plan.json`` is rewritten (steps, pairs/s,
minutes, exit status of every stage so far), so a call cut short keeps every finished stage. A
stage that fails leaves the next one starting from the adapter before it.

``--dry-run``: the same stages with one or two tiny steps each on whatever device is there (the
CPU here): ``tests/training/test_device_run.py`` runs it end to end in CI, so lent minutes are never
spent finding a bug.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path

from searchr3.cli import print_error
from searchr3.errors import SearchR3Error

STAGES = ("stage1", "traces", "rl")
SHARES = (0.5, 0.2, 0.3)
LOAD_GRACE_S = 120  # a stage's hard limit beyond its minutes: loading the model, exporting, evaluating


class DeviceRunError(SearchR3Error):
    """The prepared run cannot start: no kit, no pairs, or shares that do not add up."""


@dataclass
class Plan:
    """What to run: the kit's files, the time, and each stage's batch shape."""

    kit: Path
    out: Path
    work: Path
    minutes: float = 5.5
    shares: tuple[float, ...] = SHARES
    batch_size: int = 128
    negatives: int = 3
    rl_queries: int = 16
    rl_group: int = 8
    dry_run: bool = False

    def minutes_for(self, stage: str) -> float:
        return self.minutes * self.shares[STAGES.index(stage)]

    def argv(self, stage: str, init: str) -> tuple[list[str], int] | None:
        """The stage's command line and the examples one of its steps trains on (``None``:
        nothing to train on)."""
        data = self.kit / ("pairs-traces.jsonl" if stage == "traces" else "pairs.jsonl")
        if not data.is_file():
            return None
        dry = self.dry_run  # the same path, as small as it goes
        options = {"--data": data, "--out": self.work / stage, "--init": init,
                   "--max-minutes": f"{self.minutes_for(stage):.3f}", "--save-every": 25}
        if dry:
            options.update({"--mixed-precision": "no", "--max-query-tokens": 16, "--max-document-tokens": 32})
        if stage == "rl":
            module, per_step = "training.rl", (1 * 2 if dry else self.rl_queries * self.rl_group)
            options.update({"--steps": 2 if dry else 500, "--queries": 1 if dry else self.rl_queries,
                            "--group": 2 if dry else self.rl_group, "--min-plain-rank": 2})
            if dry:  # a handful of pairs: every query is a training query
                options.update({"--max-new-tokens": 4, "--corpus-pairs": 4, "--micro-batch": 2, "--min-plain-rank": 1})
            flags = ["--fit-schedule", "--over-plain", "--drop-flat"]
        else:
            batch = 2 if dry else self.batch_size
            module, per_step = "training.sft", batch
            options.update({"--steps": 2 if dry else 5000, "--batch-size": batch, "--chunk-size": batch,
                            "--negatives": 1 if dry else self.negatives})
            if stage == "traces":
                options["--w-lm"] = 0.5
            flags = ["--fit-schedule"]
        args = [sys.executable, "-m", module, *(str(x) for kv in options.items() for x in kv), *flags]
        return args, per_step


def pack_stage(run: Path, out: Path, stage: str) -> Path | None:
    """``out/STAGE.tar``: the run's adapter, log, config, summary and curves (``None``: no adapter)."""
    if not (run / "adapter").is_dir():
        return None
    tar_path = out / f"{stage}.tar"
    with tarfile.open(tar_path, "w") as tar:
        tar.add(run / "adapter", "adapter")
        for name in ("log.jsonl", "config.json", "summary.json", *sorted(p.name for p in run.glob("*.png"))):
            if (run / name).is_file():
                tar.add(run / name, name)
    return tar_path


def rates(summary: dict, per_step: int) -> dict:
    """Steps, training seconds and examples per second of a finished stage, from its summary."""
    steps, seconds = summary.get("steps", 0), summary.get("seconds", 0.0) or 0.0
    return {"steps": steps, "train_seconds": round(seconds, 1),
            "examples_per_s": round(steps * per_step / seconds, 2) if seconds else None}


def run_plan(plan: Plan, log=print) -> dict:
    """Run the stages in order; return (and keep writing) ``$OUT/plan.json``."""
    if not (plan.kit / "pairs.jsonl").is_file():
        raise DeviceRunError(f"no pairs in the kit: {plan.kit / 'pairs.jsonl'} (pack the kit with its pairs)")
    if len(plan.shares) != len(STAGES) or abs(sum(plan.shares) - 1) > 1e-6 or min(plan.shares) < 0:
        raise DeviceRunError(f"--shares needs {len(STAGES)} non-negative numbers that add up to 1")
    plan.out.mkdir(parents=True, exist_ok=True)
    report = {"minutes": plan.minutes, "dry_run": plan.dry_run, "stages": []}

    def save() -> None:
        (plan.out / "plan.json").write_text(json.dumps(report, indent=2))

    init = "default"
    for stage in STAGES:
        command = plan.argv(stage, init)
        entry: dict = {"stage": stage, "init": init, "planned_minutes": round(plan.minutes_for(stage), 2)}
        report["stages"].append(entry)
        if command is None or plan.minutes_for(stage) <= 0:
            entry["status"] = "skipped: nothing to train on" if command is None else "skipped: no time given"
            save()
            continue
        argv, per_step = command
        log(f"== {stage}: {plan.minutes_for(stage):.1f} min from {init}: {' '.join(argv[1:])}")
        t0 = time.perf_counter()
        try:
            done = subprocess.run(argv, timeout=plan.minutes_for(stage) * 60 + LOAD_GRACE_S)
            entry["exit"] = done.returncode
        except subprocess.TimeoutExpired:
            entry["exit"] = "timeout"
        entry["wall_minutes"] = round((time.perf_counter() - t0) / 60, 2)
        run = plan.work / stage
        packed = pack_stage(run, plan.out, stage)
        if packed is not None and entry["exit"] == 0:
            summary = json.loads((run / "summary.json").read_text()) if (run / "summary.json").is_file() else {}
            entry.update(rates(summary, per_step), status="done", tar=packed.name)
            init = str(run / "adapter")
        else:
            entry["status"] = f"failed (exit {entry['exit']}): the next stage starts from {init}"
        save()
        log(f"== {stage}: {entry['status']} in {entry['wall_minutes']} min")
    return report


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m training.device_run", description=__doc__.split("\n\n")[0])
    ap.add_argument("--kit", type=Path, default=Path(os.environ.get("KIT", ".kit/home/root")),
                    help="the unpacked kit (default $KIT): pairs.jsonl, pairs-traces.jsonl")
    ap.add_argument("--out", type=Path, default=Path(os.environ["OUT"]) if os.environ.get("OUT") else None,
                    help="where the stages' results go (default $OUT)")
    ap.add_argument("--work", type=Path, default=Path("/tmp/searchr3-device-run"), help="the stages' run folders")
    ap.add_argument("--minutes", type=float, default=5.5, help="training minutes for all stages together")
    ap.add_argument("--shares", type=float, nargs=3, default=list(SHARES), metavar=("STAGE1", "TRACES", "RL"))
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--negatives", type=int, default=3)
    ap.add_argument("--dry-run", action="store_true", help="one or two tiny steps per stage (a check on the CPU)")
    args = ap.parse_args(argv)
    if args.out is None:
        print_error("name --out DIR (or set $OUT)")
        return 2
    plan = Plan(args.kit, args.out, args.work, args.minutes, tuple(args.shares), args.batch_size, args.negatives,
                dry_run=args.dry_run)
    try:
        report = run_plan(plan, log=lambda line: print(line, flush=True))
    except SearchR3Error as exc:
        print_error(exc)
        return 2
    done = [s["stage"] for s in report["stages"] if s.get("status") == "done"]
    print(f"done: {', '.join(done) or 'no stage'}; results in {plan.out}")
    return 0 if done else 1


if __name__ == "__main__":
    sys.exit(main())
