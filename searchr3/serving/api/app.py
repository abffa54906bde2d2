"""``create_api``: the FastAPI application serving the OpenAI-compatible API over a ChatService."""

from __future__ import annotations

import time

from fastapi import FastAPI, Request

from searchr3.serving.api import chat, collections, embeddings, errors, sources
from searchr3.serving.api.errors import APIError
from searchr3.serving.api.schemas import CHAT_MODEL_ID, MODEL_ID
from searchr3.serving.api.security import require_key
from searchr3.serving.service import ChatService

MAX_JSON_BYTES = 16 * 2**20
MAX_UPLOAD_BYTES = 256 * 2**20


class _State:
    """What routes share: the service and the model ids requests may name."""

    def __init__(self, service: ChatService):
        self.service = service
        self.created = int(time.time())
        self.model_ids = (MODEL_ID, service.embedder.fingerprint)

    def check_model(self, model: str, chat: bool = False) -> None:
        if model not in self.model_ids and not (chat and model == CHAT_MODEL_ID):
            names = f"'{MODEL_ID}' or '{CHAT_MODEL_ID}'" if chat else f"'{MODEL_ID}'"
            raise APIError(404, f"the model '{model}' does not exist here; use {names}", "model_not_found", "model")


def _limit_body(app: FastAPI) -> None:
    """Refuse bodies over the limit (413) before reading them: uploads 256 MiB, JSON 16 MiB."""

    @app.middleware("http")
    async def _check_size(request: Request, call_next):
        if request.url.path.startswith("/v1"):
            limit = MAX_UPLOAD_BYTES if request.url.path.endswith("/files") else MAX_JSON_BYTES
            size = request.headers.get("content-length")
            if size is not None and (not size.isdigit() or int(size) > limit):
                return APIError(413, f"the request body is {size} bytes; the limit is {limit:,}",
                                "request_too_large").response()
        return await call_next(request)


def create_api(service: ChatService, api_key: str | None = None) -> FastAPI:
    """The API over ``service``: ``/v1/embeddings``, ``/v1/chat/completions``, ``/v1/models`` and
    ``/v1/collections/{name}[/files]``, and signed ``/sources/...`` links to the files of shown
    passages. With ``api_key``, every ``/v1`` route requires it."""
    app = FastAPI(title="searchr3 API", docs_url="/v1/docs", openapi_url="/v1/openapi.json", redoc_url=None)
    state = _State(service)
    app.state.service = state.service
    app.state.check_model = state.check_model
    errors.install(app)
    _limit_body(app)
    require_key(app, api_key)  # added last, so it runs first

    @app.get("/v1/models")
    def list_models() -> dict:
        """``searchr3`` (embeddings; chat answered from a collection) and ``searchr3-chat`` (the
        local model chatting without retrieval)."""
        card = {"id": MODEL_ID, "object": "model", "created": state.created, "owned_by": "searchr3",
                "fingerprint": service.embedder.fingerprint, "dimensions": service.embedder.dim,
                "query_fingerprint": service.embedder.query_fingerprint}
        plain = {"id": CHAT_MODEL_ID, "object": "model", "created": state.created, "owned_by": "searchr3"}
        return {"object": "list", "data": [card, plain]}

    @app.get("/v1/models/{model_id}")
    def get_model(model_id: str) -> dict:
        state.check_model(model_id, chat=True)
        card, plain = list_models()["data"]
        return plain if model_id == CHAT_MODEL_ID else card

    for module in (embeddings, chat, collections, sources):
        app.include_router(module.router)
    return app
