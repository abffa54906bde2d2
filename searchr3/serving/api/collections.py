"""Collections: ``POST /v1/collections/{name}/files`` adds documents (multipart upload, indexed
incrementally like ``python -m ingest``); ``GET /v1/collections/{name}`` reports files and chunks."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from searchr3.errors import InvalidInputError, SearchR3Error
from searchr3.serving.api.errors import APIError, from_library
from searchr3.serving.service import safe_file_name

router = APIRouter()

# Chroma's rule for collection names
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,510}[A-Za-z0-9]$")


def check_collection_name(name: str, param: str = "name") -> str:
    """``name`` if Chroma accepts it (3-512 of ``A-Za-z0-9._-``, alphanumeric at both ends), else a 400."""
    if not _NAME.match(name) or ".." in name:
        raise APIError(400, f"invalid collection name {name!r}: use 3-512 letters, digits, '.', '_' or '-',"
                       " starting and ending with a letter or digit", "invalid_value", param)
    return name


@router.get("/v1/collections/{name}")
def collection_stats(name: str, request: Request) -> dict:
    """Files and chunks in a collection (zeros when it does not exist yet)."""
    return {"object": "collection", **request.app.state.service.stats(check_collection_name(name))}


@router.get("/v1/collections/{name}/files")
def list_files(name: str, request: Request) -> dict:
    """The files of a collection: source, file name, chunks, when indexed."""
    files = request.app.state.service.files(check_collection_name(name))
    return {"object": "list", "data": [{"object": "file", **f} for f in files]}


@router.delete("/v1/collections/{name}/files")
def remove_file(name: str, source: str, request: Request) -> dict:
    """Remove the file ``source`` (as listed) from the collection: its chunks go, BM25 follows."""
    try:
        removed = request.app.state.service.remove_file(source, check_collection_name(name))
    except InvalidInputError as exc:
        raise APIError(404, str(exc), "file_not_found", "source") from None
    except SearchR3Error as exc:
        raise from_library(exc, "source") from None
    return {"object": "file.deleted", "source": source, "deleted": True, "chunks_removed": removed}


@router.post("/v1/collections/{name}/files")
async def add_files(name: str, request: Request) -> dict:
    """Index the uploaded ``files`` (multipart) into collection ``name``, creating it if needed.

    Each file is stored under its own base name (a name cannot leave the upload folder); files
    already indexed unchanged are skipped. Answers the ingestion summary; unreadable files are
    listed in ``failures`` (the request still succeeds for the others).
    """
    collection = check_collection_name(name)
    form = await request.form(max_files=1000)
    uploads = [f for f in form.getlist("files") if isinstance(f, UploadFile)]
    if not uploads:
        raise APIError(400, "no files: send them as multipart form field 'files'", "invalid_value", "files")
    service = request.app.state.service
    with tempfile.TemporaryDirectory(prefix="searchr3-upload-") as tmp:
        paths, seen = [], set()
        for upload in uploads:
            try:
                fname = safe_file_name(upload.filename or "")
            except SearchR3Error as exc:
                raise from_library(exc, "files") from None
            if fname in seen:
                raise APIError(400, f"file name {fname!r} appears twice in one upload", "invalid_value", "files")
            seen.add(fname)
            path = Path(tmp) / fname
            path.write_bytes(await upload.read())
            paths.append(path)
        try:
            summary = await run_in_threadpool(service.upload, paths, collection)
        except SearchR3Error as exc:  # another process is writing the index, or it cannot be opened
            raise from_library(exc, "files") from None
    out = summary.as_dict()
    for failure in out["failures"]:
        failure["path"] = Path(failure["path"]).name  # server paths are not the caller's business
    out["skipped"] = [Path(p).name for p in out["skipped"]]
    return {"object": "ingestion", "collection": collection, **out}
