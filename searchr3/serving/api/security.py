"""Who may call the API: open on loopback; any other bind needs a key, then required everywhere."""

from __future__ import annotations

import ipaddress
import secrets

from fastapi import FastAPI, Request

from searchr3.errors import SearchR3Error
from searchr3.serving.api.errors import APIError

#: The environment variable that holds the API key (``--api-key`` wins).
KEY_ENV = "SEARCHR3_API_KEY"


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1); False for anything else."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name that may resolve anywhere


def check_bind(host: str, api_key: str | None) -> None:
    """Raise :class:`SearchR3Error` when ``host`` is reachable from other machines and no key is set."""
    if not is_loopback(host) and not api_key:
        raise SearchR3Error(
            f"refusing to serve on {host} without an API key: set {KEY_ENV} or pass --api-key"
            " (or bind 127.0.0.1)"
        )


def key_matches(header: str | None, api_key: str) -> bool:
    """Whether an ``Authorization`` header carries ``Bearer <api_key>`` (constant-time compare)."""
    scheme, _, given = (header or "").partition(" ")
    return scheme.lower() == "bearer" and secrets.compare_digest(given.strip().encode(), api_key.encode())


def require_key(app: FastAPI, api_key: str | None, prefix: str = "/v1") -> None:
    """With ``api_key``, every route under ``prefix`` answers 401 unless the request carries it."""
    if not api_key:
        return

    @app.middleware("http")
    async def _check_key(request: Request, call_next):
        if request.url.path.startswith(prefix) and not key_matches(request.headers.get("authorization"), api_key):
            return APIError(401, "missing or incorrect API key (send 'Authorization: Bearer <key>')",
                            "invalid_api_key").response()
        return await call_next(request)


def page_auth(api_key: str | None):
    """Gradio's ``auth`` for the page: any user name, the API key as password (``None``: open)."""
    if not api_key:
        return None
    return lambda _user, password: secrets.compare_digest(str(password).encode(), api_key.encode())
