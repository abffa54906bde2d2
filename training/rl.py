"""``python -m training.rl --data PAIRS.jsonl --init ADAPTER --out DIR [options]``: stage 2, RL.

The trainer is :class:`training.rl_trainer.RLTrainer` over the corpus environment of
:mod:`training.rl_env`; every option is a field of :class:`training.config.RLConfig`
(``--help`` lists them with their defaults).
"""

from __future__ import annotations

import sys

from .cli import Stage, run_stage
from .config import RLConfig
from .rl_trainer import RLTrainer

STAGE = Stage(
    name="RL",
    config_cls=RLConfig,
    build=RLTrainer,
    info=lambda r: f"reward {r['reward']:.3f} rr {r['retrieval']:.3f} kl {r['kl']:.4f} tokens {r['trace_tokens']:.0f}",
    describe=lambda trainer: {"corpus_docs": len(trainer.corpus.docs), "corpus_pairs": len(trainer.corpus.pairs)},
    eval_reasoning=True,
)


def main(argv: list[str] | None = None) -> int:
    return run_stage(STAGE, argv)


if __name__ == "__main__":
    sys.exit(main())
