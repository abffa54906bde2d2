"""``python -m app``: serve the searchr3 page."""

from __future__ import annotations

import argparse
import sys

from searchr3 import Embedder, ModelConfig, SearchR3Error
from searchr3.config import DEFAULT_ADAPTER


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m app", description="searchr3 web app")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=7860)
    ap.add_argument("--model", default=ModelConfig.model, help="default: the embedded SmolLM2-135M-Instruct")
    ap.add_argument("--adapter", default=DEFAULT_ADAPTER, help="LoRA adapter directory; 'default': the shipped trained adapter; 'none': the bare model")
    args = ap.parse_args(argv)
    try:
        embedder = Embedder.load(ModelConfig(model=args.model, adapter=args.adapter))
    except SearchR3Error as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    from app.page import build

    print(f"searchr3: serving on http://{args.host}:{args.port} with {embedder.fingerprint}", flush=True)
    build(embedder).launch(server_name=args.host, server_port=args.port, show_error=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
