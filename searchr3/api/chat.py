"""``POST /v1/chat/completions``: retrieval over a collection, then an answer from the passages
found, whole or streamed (server-sent events). The response carries ``sources`` (the passages,
numbered as the answer cites them), ``citations`` and, with reasoning, the ``trace``."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from ..errors import SearchR3Error
from ..search import SearchResult
from ..service import DEFAULT_OPTIONS, EMPTY_INDEX, cited, validate_question
from .collections import check_collection_name
from .errors import APIError, from_library
from .schemas import ChatRequest

router = APIRouter()


def _sources(result: SearchResult | None) -> list[dict]:
    hits = result.hits if result else []
    return [{"index": h.rank, "id": h.id, "score": round(float(h.score), 6), "text": h.text, "metadata": h.metadata}
            for h in hits]


def _chunk(base: dict, delta: dict, finish: str | None = None, **extra) -> str:
    body = {**base, "object": "chat.completion.chunk",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}
    return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"


def _usage(state, prompt: str, answer: str) -> dict:
    tok = state.service.embedder.tokenizer
    p, c = len(tok(prompt)["input_ids"]), len(tok(answer)["input_ids"]) if answer else 0
    return {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}


@router.post("/v1/chat/completions", response_model=None)
def chat_completions(body: ChatRequest, request: Request):
    """Answer the last user message from the passages retrieved for it."""
    state = request.app.state
    state.check_model(body.model)
    service = state.service
    collection = check_collection_name(body.collection or service.location.collection, "collection")
    try:
        question = validate_question(body.question())
    except SearchR3Error as exc:
        raise from_library(exc, "messages") from None
    if not service.has_collection(collection):
        raise APIError(404, f"no collection '{collection}': add documents first (POST"
                       f" /v1/collections/{collection}/files, or python -m ingest)", "collection_not_found",
                       "collection")
    overrides = {k: v for k, v in (("k", body.k), ("reasoning", body.reasoning), ("hybrid", body.hybrid))
                 if v is not None}
    try:
        options = DEFAULT_OPTIONS.merged(**overrides)
        result = service.retrieve(question, options, collection)
    except SearchR3Error as exc:
        raise from_library(exc) from None
    limit = body.max_completion_tokens or body.max_tokens
    updates = {"max_new_tokens": limit} if limit else {}
    if body.temperature is not None:
        updates["temperature"] = body.temperature
    chat = service.chat.model_copy(update=updates) if updates else service.chat
    base = {"id": f"chatcmpl-{uuid.uuid4().hex}", "created": int(time.time()), "model": body.model}
    extra = {"sources": _sources(result), "trace": result.trace if result else None}

    def pieces() -> Iterator[str]:
        if result is None:
            yield EMPTY_INDEX
            return
        yield from service.answer(question, result.hits, chat)

    if body.stream:
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        return StreamingResponse(_stream(state, base, extra, question, pieces(), include_usage),
                                 media_type="text/event-stream")
    try:
        answer = "".join(pieces())
    except SearchR3Error as exc:
        raise from_library(exc, "messages") from None
    n = len(extra["sources"])
    return {**base, "object": "chat.completion",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": answer}, "finish_reason": "stop"}],
            "usage": _usage(state, question, answer), **extra, "citations": cited(answer, n)}


def _stream(state, base: dict, extra: dict, question: str, pieces: Iterator[str], include_usage: bool):
    yield _chunk(base, {"role": "assistant", "content": ""}, **extra)
    answer = ""
    try:
        for piece in pieces:
            answer += piece
            yield _chunk(base, {"content": piece})
    except SearchR3Error as exc:  # the status is already sent: report in the stream, as OpenAI does
        yield f"data: {json.dumps(from_library(exc, 'messages').body())}\n\n"
        return
    yield _chunk(base, {}, "stop", citations=cited(answer, len(extra["sources"])))
    if include_usage:
        body = {**base, "object": "chat.completion.chunk", "choices": [], "usage": _usage(state, question, answer)}
        yield f"data: {json.dumps(body)}\n\n"
    yield "data: [DONE]\n\n"
