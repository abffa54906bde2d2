"""Pieces every searchr3 command line shares: model and index options, one-line errors."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .config import DEFAULT_ADAPTER, ModelConfig
from .index import DEFAULT_COLLECTION, IndexLocation, default_db_path
from .precision import DECODE_PRECISIONS, PRECISIONS


def add_model_args(ap: argparse.ArgumentParser) -> None:
    """``--model``, ``--adapter`` and ``--precision``."""
    ap.add_argument("--model", default=ModelConfig.model, help="default: the embedded SmolLM2-135M-Instruct")
    ap.add_argument("--adapter", default=DEFAULT_ADAPTER,
                    help="LoRA adapter directory; 'default': the shipped trained adapter; 'none': the bare model")
    ap.add_argument("--precision", default="auto", choices=("auto", *PRECISIONS),
                    help="auto: bfloat16 on a GPU or a CPU with native bf16 arithmetic, else float32")
    ap.add_argument("--decode-precision", default="auto", choices=("auto", *DECODE_PRECISIONS),
                    help="weights that generate reasoning traces; auto: int8 on a CPU running bfloat16")


def model_config(args: argparse.Namespace) -> ModelConfig:
    """The model configuration the model options name."""
    return ModelConfig(model=args.model, adapter=args.adapter, precision=args.precision,
                       decode_precision=args.decode_precision)


def add_index_args(ap: argparse.ArgumentParser) -> None:
    """``--db DIR`` or ``--chroma-host H --chroma-port P``, and ``--collection``."""
    where = ap.add_mutually_exclusive_group()
    where.add_argument("--db", type=Path, default=None, help=f"embedded index directory (default {default_db_path()})")
    where.add_argument("--chroma-host", default=None, help="use a Chroma server (chroma run) at this host")
    ap.add_argument("--chroma-port", type=int, default=8000)
    ap.add_argument("--collection", default=DEFAULT_COLLECTION)


def index_location(args: argparse.Namespace) -> IndexLocation:
    """The location the index options name."""
    return IndexLocation.resolve(args.db, args.chroma_host, args.chroma_port, args.collection)


def print_error(message: object) -> None:
    """``error: MESSAGE`` as one line on stderr (whitespace and newlines collapsed)."""
    print(f"error: {' '.join(str(message).split())}", file=sys.stderr)
