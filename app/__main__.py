"""``python -m app``: the searchr3 web chat over an index."""

from __future__ import annotations

import argparse
import sys

from searchr3 import Embedder, SearchR3Error
from searchr3.cli import add_index_args, add_model_args, index_location, model_config, print_error


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m app", description="searchr3 web chat")
    add_index_args(ap)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=7860)
    add_model_args(ap)
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    location = index_location(args)
    try:
        embedder = Embedder.load(model_config(args))
    except SearchR3Error as exc:
        print_error(exc)
        return 1
    from app.page import build, launch
    from app.service import ChatService

    service = ChatService(embedder, location)
    print(
        f"searchr3: serving http://{args.host}:{args.port} · index {location.label} · model {embedder.fingerprint}",
        flush=True,
    )
    launch(build(service), args.host, args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
