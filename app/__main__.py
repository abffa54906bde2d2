"""``python -m app``: the searchr3 web chat over an index, with the OpenAI-compatible API on
the same port (``/v1/...``)."""

from __future__ import annotations

import sys

from searchr3.serving.launch import parse_server_args, start_service


def main(argv: list[str] | None = None) -> int:
    args = parse_server_args("python -m app", "searchr3 web chat (and its API under /v1)", 7860, argv)
    started = start_service(args)
    if isinstance(started, int):
        return started
    service, key = started
    from app.page import build, serve

    print(
        f"searchr3: serving http://{args.host}:{args.port} (API under /v1{', key required' if key else ''})"
        f" · index {service.location.label} · model {service.embedder.query_fingerprint}",
        flush=True,
    )
    serve(build(service), service, args.host, args.port, key)
    return 0


if __name__ == "__main__":
    sys.exit(main())
