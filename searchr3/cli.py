"""Pieces every searchr3 command line shares: model and index options, one-line errors."""

from __future__ import annotations

import argparse
import os
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


KEY_ENV = "SEARCHR3_API_KEY"


def add_serve_args(ap: argparse.ArgumentParser, port: int) -> None:
    """``--host``, ``--port`` and ``--api-key`` of a server."""
    ap.add_argument("--host", default="127.0.0.1", help="address to bind; other than loopback needs an API key")
    ap.add_argument("--port", type=int, default=port)
    ap.add_argument("--api-key", default=None,
                    help=f"required from every API caller and on the page (default: ${KEY_ENV}; none on loopback)")


def api_key(args: argparse.Namespace) -> str | None:
    """The API key from ``--api-key`` or the environment (``None``: open)."""
    return args.api_key or os.environ.get(KEY_ENV) or None


def parse_server_args(prog: str, description: str, port: int, argv: list[str] | None) -> argparse.Namespace:
    """The options of a server CLI: index, ``--host``/``--port``/``--api-key``, model."""
    ap = argparse.ArgumentParser(prog=prog, description=description)
    add_index_args(ap)
    add_serve_args(ap, port)
    add_model_args(ap)
    return ap.parse_args(argv)


def start_service(args: argparse.Namespace):
    """For a server CLI: check the bind (no key off loopback: one line, exit status 2), then load
    the model (failure: one line, 1). Returns ``(ChatService, key)``, or the exit status."""
    from .api import check_bind
    from .embedder import Embedder
    from .errors import SearchR3Error
    from .service import ChatService

    key = api_key(args)
    try:
        check_bind(args.host, key)
    except SearchR3Error as exc:
        print_error(exc)
        return 2
    try:
        return ChatService(Embedder.load(model_config(args)), index_location(args)), key
    except SearchR3Error as exc:
        print_error(exc)
        return 1


def print_error(message: object) -> None:
    """``error: MESSAGE`` as one line on stderr (whitespace and newlines collapsed)."""
    print(f"error: {' '.join(str(message).split())}", file=sys.stderr)
