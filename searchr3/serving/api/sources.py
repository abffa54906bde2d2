"""``GET /sources/{collection}/{chunk id}?sig=…``: the file a shown passage came from, for a
reader checking a citation. Only signed links (:class:`~searchr3.serving.source_links.SourceLinks`,
made by the page and the chat API for the passages they show) open anything; the file is
sent inline, HTML sandboxed so it cannot run scripts in the app's origin."""

from __future__ import annotations

import mimetypes

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse

from searchr3.errors import SearchR3Error
from searchr3.serving.api.errors import APIError, from_library
from searchr3.serving.source_links import SOURCE_ROUTE

router = APIRouter()
TEXT_TYPES = {".md": "text/plain", ".rst": "text/plain", ".txt": "text/plain"}


@router.get(SOURCE_ROUTE + "/{collection}/{chunk_id}", response_model=None)
def source(collection: str, chunk_id: str, request: Request, sig: str = "") -> FileResponse:
    """The source file of a passage the app showed (403 without a valid signature)."""
    service = request.app.state.service
    if not service.links.verify(collection, chunk_id, sig):
        raise APIError(403, "this source link was not made by this server (or the server restarted)",
                       "invalid_signature", "sig")
    try:
        path = service.source_file(chunk_id, collection)
    except SearchR3Error as exc:
        raise from_library(exc) from None
    kind = TEXT_TYPES.get(path.suffix.lower()) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    if kind.startswith("text/"):
        kind += "; charset=utf-8"
    headers = {"Content-Security-Policy": "sandbox", "X-Content-Type-Options": "nosniff"}
    return FileResponse(path, media_type=kind, headers=headers, content_disposition_type="inline",
                        filename=path.name)
