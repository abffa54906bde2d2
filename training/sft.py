"""``python -m training.sft --data PAIRS.jsonl --out DIR [options]``: stage 1, contrastive SFT.

The trainer is :class:`training.sft_trainer.SFTTrainer`; every option is a field of
:class:`training.config.SFTConfig` (``--help`` lists them with their defaults).
"""

from __future__ import annotations

import sys

from .cli import Stage, run_stage
from .config import SFTConfig
from .sft_trainer import SFTTrainer

STAGE = Stage(
    name="SFT",
    config_cls=SFTConfig,
    build=SFTTrainer,
    info=lambda r: f"loss {r['loss']:.3f} nce {r['nce']:.3f} lm {r['lm']:.3f} kl {r['kl']:.4f}",
)


def main(argv: list[str] | None = None) -> int:
    return run_stage(STAGE, argv)


if __name__ == "__main__":
    sys.exit(main())
