"""``python -m searchr3.serving``: the OpenAI-compatible API alone (no page), over an index."""

from __future__ import annotations

import sys

from searchr3.serving.launch import parse_server_args, start_service


def main(argv: list[str] | None = None) -> int:
    args = parse_server_args("python -m searchr3.serving", "the OpenAI-compatible API of searchr3", 8100, argv)
    started = start_service(args)
    if isinstance(started, int):
        return started
    service, key = started
    import uvicorn

    from searchr3.serving.api import create_api

    print(f"searchr3: API at http://{args.host}:{args.port}/v1{' (key required)' if key else ''}"
          f" · index {service.location.label} · model {service.embedder.fingerprint}", flush=True)
    uvicorn.run(create_api(service, key), host=args.host, port=args.port, log_level="warning")
    return 0


if __name__ == "__main__":
    sys.exit(main())
