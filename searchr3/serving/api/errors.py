"""Errors in OpenAI's shape: ``{"error": {"message", "type", "param", "code"}}`` with its status."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from searchr3.errors import IndexBusyError, IndexNotFoundError, InputTooLongError, SearchR3Error, SourceNotFoundError

_TYPES = {400: "invalid_request_error", 401: "authentication_error", 404: "not_found_error",
          409: "conflict_error", 413: "invalid_request_error", 500: "server_error"}


class APIError(Exception):
    """An error a route answers with: HTTP ``status``, a one-line ``message`` and OpenAI's fields."""

    def __init__(self, status: int, message: str, code: str | None = None, param: str | None = None):
        super().__init__(message)
        self.status, self.message, self.code, self.param = status, message, code, param

    def body(self) -> dict:
        kind = _TYPES.get(self.status, "invalid_request_error")
        return {"error": {"message": self.message, "type": kind, "param": self.param, "code": self.code}}

    def response(self) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if self.status == 401 else None
        return JSONResponse(self.body(), status_code=self.status, headers=headers)


def from_library(exc: SearchR3Error, param: str | None = None) -> APIError:
    """The API error for a library error: too long → 400 ``context_length_exceeded``; a missing
    collection or source → 404; another process writing the index → 409; any other input problem → 400."""
    if isinstance(exc, InputTooLongError):
        return APIError(400, str(exc), "context_length_exceeded", param)
    if isinstance(exc, IndexBusyError):
        return APIError(409, str(exc), "index_busy", param)
    if isinstance(exc, IndexNotFoundError):
        return APIError(404, str(exc), "collection_not_found", param)
    if isinstance(exc, SourceNotFoundError):
        return APIError(404, str(exc), "source_not_found", param)
    return APIError(400, str(exc), "invalid_value", param)


def _validation_message(exc: RequestValidationError) -> tuple[str, str | None]:
    first = exc.errors()[0] if exc.errors() else {}
    loc = [str(p) for p in first.get("loc", ()) if p != "body"]
    if first.get("type") == "json_invalid":
        return "the request body is not valid JSON", None
    where = ".".join(loc)
    return (f"{where}: {first.get('msg', 'invalid')}" if where else first.get("msg", "invalid request")), where or None


def install(app: FastAPI) -> None:
    """Answer API errors, invalid bodies (400, not FastAPI's 422) and unknown ``/v1`` routes in
    OpenAI's shape; other paths (the page) keep their own handling."""

    @app.exception_handler(APIError)
    async def _api_error(request: Request, exc: APIError):
        return exc.response()

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        message, param = _validation_message(exc)
        return APIError(400, message, "invalid_request", param).response()

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException):
        if request.url.path.startswith("/v1"):
            return APIError(exc.status_code, str(exc.detail), None).response()
        return await http_exception_handler(request, exc)
