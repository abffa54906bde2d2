"""Stage-1 step time: chunks of similar lengths against chunks in the pairs' order, or all
layers trained against the last few.

By default the same trainer runs each of the first ``--steps`` batches twice, once with its
prompts held longest first (each chunk of ``--chunk-size`` rows padded to its own longest, the
default) and once in the pairs' order (each chunk padded to its own longest, in random order
about the batch's longest: what the trainer did before), alternating which goes first. With
``--train-layers N`` the two arms are two trainers on the same batches, one training every
layer, one only the last N (``SFTConfig.train_layers``). Prints the median seconds a step, the
token positions computed (padding included) and the share of them that is padding.

    python -m bench.sft_step --data data/pairs-all.jsonl [--steps 3] [--batch-size 16] [--chunk-size 16]
    python -m bench.sft_step --data data/pairs-all.jsonl --train-layers 8

``--positions-only`` counts the token positions of each mode without training (seconds, any
batch size: e.g. the planned GPU run's ``--batch-size 128 --chunk-size 128``).
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from training.config import SFTConfig
from training.pairs import load_pairs
from training.sft_trainer import SFTTrainer

MODES = {"longest first": True, "pairs' order": False}  # see the module docstring


def arms(config: SFTConfig, pairs, tmp: Path, train_layers: int) -> dict[str, tuple[SFTTrainer, bool]]:
    """The compared arms: name -> (trainer, whether it holds prompts longest first), fastest expected first."""
    if not train_layers:
        trainer = SFTTrainer(config, pairs, tmp / "modes")
        return {mode: (trainer, longest) for mode, longest in MODES.items()}
    top = SFTTrainer(dataclasses.replace(config, train_layers=train_layers), pairs, tmp / "top")
    return {f"last {train_layers} layers": (top, True), "all layers": (SFTTrainer(config, pairs, tmp / "all"), True)}


def positions(trainer: SFTTrainer) -> tuple[int, int]:
    """(token positions computed, of which real tokens) over a step's forward chunks."""
    groups = trainer.batch(*trainer.batch_texts(trainer.step))
    total = sum(g.padded_tokens(trainer.cache.spans(len(g))) for g in groups)
    return total, sum(sum(g.lengths) for g in groups)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, required=True, help="a pairs file (python -m training.data)")
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--chunk-size", type=int, default=16)
    ap.add_argument("--negatives", type=int, default=3)
    ap.add_argument("--init", default="default", help="the adapter the steps start from")
    ap.add_argument("--positions-only", action="store_true", help="count token positions, run no step")
    ap.add_argument("--train-layers", type=int, default=0,
                    help="compare training every layer with training only the last N (0: compare chunk orders)")
    args = ap.parse_args(argv)
    config = SFTConfig(steps=args.steps * 2, batch_size=args.batch_size, chunk_size=args.chunk_size,
                       negatives=args.negatives, init=args.init, mixed_precision="auto")
    pairs = load_pairs(args.data)
    with tempfile.TemporaryDirectory() as tmp, Progress(console=Console(stderr=True)) as bar:
        compared = arms(config, pairs, Path(tmp), args.train_layers)
        seconds = {m: [] for m in compared}
        counts = {m: [0, 0] for m in compared}
        task = bar.add_task("steps", total=args.steps * len(compared))
        for step in range(args.steps):
            order = list(compared) if step % 2 == 0 else list(reversed(compared))
            for mode in order:
                trainer, longest = compared[mode]
                trainer.step, trainer.sort_by_length = step, longest  # the same batch in every arm
                total, real = positions(trainer)
                counts[mode][0] += total
                counts[mode][1] += real
                t0 = time.perf_counter()
                if not args.positions_only:
                    trainer.train_step()
                seconds[mode].append(time.perf_counter() - t0)
                bar.advance(task)
    table = Table(title=f"stage-1 steps: batch {args.batch_size}, chunks of {args.chunk_size}, "
                        f"{args.negatives} hard negatives, {args.steps} steps each")
    for column in ("arm", "s/step (median)", "token positions / step", "padding"):
        table.add_column(column, justify="left" if column == "arm" else "right")
    for mode in compared:
        total, real = counts[mode]
        table.add_row(mode, f"{statistics.median(seconds[mode]):.1f}", f"{total // args.steps:,}",
                      f"{1 - real / total:.0%}")
    Console().print(table)
    slow, fast = (statistics.median(seconds[m]) for m in reversed(compared))
    if not args.positions_only:
        Console().print(f"speed-up: {slow / fast:.2f}x")
    if not args.train_layers:
        wide, narrow = (counts[m][0] for m in reversed(compared))
        Console().print(f"token positions: {wide / narrow:.2f}x fewer")


if __name__ == "__main__":
    main()
