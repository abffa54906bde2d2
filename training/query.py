"""``python -m training.query --data PAIRS.jsonl --out DIR [options]``: a query adapter trained
against the documents adapter's frozen passage vectors.

The trainer is :class:`training.query_trainer.QueryTrainer`; every option is a field of
:class:`training.config.QueryConfig` (``--help`` lists them with their defaults). The exported
``OUT/adapter`` is used with ``--query-adapter OUT/adapter`` (``ModelConfig.query_adapter``) beside
the documents adapter; ``--eval-data`` evaluates the two together.
"""

from __future__ import annotations

import sys

from .cli import Stage, run_stage
from .config import QueryConfig
from .query_trainer import QueryTrainer

STAGE = Stage(
    name="Query",
    config_cls=QueryConfig,
    build=QueryTrainer,
    info=lambda r: f"loss {r['loss']:.3f} top1 {r['top1']:.2f}",
    describe=lambda t: {"bank": len(t.rows.texts), "documents": str(t.documents),
                        "excluded_share": t.excluded_share()},
    documents=lambda t: t.documents,
    prepare=lambda t, tick: t.prepare(tick),
)


def main(argv: list[str] | None = None) -> int:
    return run_stage(STAGE, argv)


if __name__ == "__main__":
    sys.exit(main())
