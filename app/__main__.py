"""``python -m app``: the searchr3 web chat over an index."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from searchr3 import Embedder, ModelConfig, SearchR3Error
from searchr3.config import DEFAULT_ADAPTER
from searchr3.index import DEFAULT_COLLECTION, IndexLocation, default_db_path


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m app", description="searchr3 web chat")
    where = ap.add_mutually_exclusive_group()
    where.add_argument("--db", type=Path, default=None, help=f"embedded index directory (default {default_db_path()})")
    where.add_argument("--chroma-host", default=None, help="use a Chroma server (chroma run) at this host")
    ap.add_argument("--chroma-port", type=int, default=8000)
    ap.add_argument("--collection", default=DEFAULT_COLLECTION)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=7860)
    ap.add_argument("--model", default=ModelConfig.model, help="default: the embedded SmolLM2-135M-Instruct")
    ap.add_argument("--adapter", default=DEFAULT_ADAPTER, help="LoRA adapter directory; 'default': the shipped trained adapter; 'none': the bare model")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    location = (
        IndexLocation.server(args.chroma_host, args.chroma_port, args.collection)
        if args.chroma_host else IndexLocation.embedded(args.db, args.collection)
    )
    try:
        embedder = Embedder.load(ModelConfig(model=args.model, adapter=args.adapter))
    except SearchR3Error as exc:
        print(f"error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 1
    from app.page import build, launch
    from app.service import ChatService

    service = ChatService(embedder, location)
    print(f"searchr3: serving http://{args.host}:{args.port} · index {location.label} · model {embedder.fingerprint}", flush=True)
    launch(build(service), args.host, args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
