"""``POST /v1/chat/completions``: retrieval over a collection, then an answer from the passages
found, whole or streamed (server-sent events). Earlier user messages make a follow-up question
standalone. The response carries ``search`` (what was searched), ``sources`` (the passages,
numbered as the answer cites them, with ``highlights``: the spans of their best sentences),
``citations``, a low-relevance ``warning`` and, with reasoning, the ``trace``."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from searchr3.answers.answerers import configured
from searchr3.answers.grounding import cited
from searchr3.errors import SearchR3Error
from searchr3.retrieval.searcher import SearchResult
from searchr3.serving.api.collections import check_collection_name
from searchr3.serving.api.errors import APIError, from_library
from searchr3.serving.api.schemas import CHAT_MODEL_ID, ChatRequest
from searchr3.serving.service import (
    DEFAULT_OPTIONS,
    EMPTY_INDEX,
    highlights,
    reader_question,
    relevance_warning,
    validate_question,
)

router = APIRouter()


def _sources(service, collection: str, result: SearchResult | None) -> list[dict]:
    hits = result.hits if result else []
    spans = highlights(result.query, hits) if result else []
    return [{"index": h.rank, "id": h.id, "score": round(float(h.score), 6), "text": h.text, "metadata": h.metadata,
             "highlights": [list(span) for span in found], "link": service.links.url(collection, h.id, h.metadata)}
            for h, found in zip(hits, spans)]


def _chunk(base: dict, delta: dict, finish: str | None = None, **extra) -> str:
    body = {**base, "object": "chat.completion.chunk",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}
    return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"


def _usage(state, prompt: str, answer: str) -> dict:
    tok = state.service.embedder.tokenizer
    p, c = len(tok(prompt)["input_ids"]), len(tok(answer)["input_ids"]) if answer else 0
    return {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}


def _settings(body: ChatRequest) -> dict:
    return {"max_tokens": body.max_completion_tokens or body.max_tokens, "temperature": body.temperature}


def _respond(state, body: ChatRequest, extra: dict, prompt: str, pieces: Iterator[str]):
    """The completion, streamed or whole, with ``extra`` fields (sources, trace, …)."""
    base = {"id": f"chatcmpl-{uuid.uuid4().hex}", "created": int(time.time()), "model": body.model}
    n = len(extra.get("sources", ()))
    if body.stream:
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        return StreamingResponse(_stream(state, base, extra, prompt, pieces, include_usage),
                                 media_type="text/event-stream")
    try:
        answer = "".join(pieces)
    except SearchR3Error as exc:
        raise from_library(exc, "messages") from None
    cites = {"citations": cited(answer, n)} if "sources" in extra else {}
    return {**base, "object": "chat.completion",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": answer}, "finish_reason": "stop"}],
            "usage": _usage(state, prompt, answer), **extra, **cites}


def _plain_chat(state, body: ChatRequest):
    """``searchr3-chat``: the local model answers the conversation itself, no retrieval."""
    messages = [("system" if m.role == "developer" else m.role, m.text()) for m in body.messages
                if m.role in ("system", "developer", "user", "assistant")]
    chat = configured(state.service.chat, **_settings(body))
    pieces = (chunk.text for chunk in chat.stream(messages))
    return _respond(state, body, {}, "\n".join(text for _, text in messages), pieces)


@router.post("/v1/chat/completions", response_model=None)
def chat_completions(body: ChatRequest, request: Request):
    """Answer the last user message from the passages retrieved for it (model ``searchr3``), or
    the conversation with the local model alone (``searchr3-chat``)."""
    state = request.app.state
    state.check_model(body.model, chat=True)
    if body.model == CHAT_MODEL_ID:
        return _plain_chat(state, body)
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
        result = service.retrieve(question, options, collection, body.history())
    except SearchR3Error as exc:
        raise from_library(exc) from None
    extra = {"search": result.query if result else question, "sources": _sources(service, collection, result),
             "trace": result.trace if result else None,
             "warning": relevance_warning(result.hits, service.low_relevance) if result else None}

    def pieces() -> Iterator[str]:
        if result is None:
            yield EMPTY_INDEX
            return
        asked = reader_question(question, result.query, body.history())
        yield from service.answer(asked, result.hits, **_settings(body))

    return _respond(state, body, extra, question, pieces())


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
    cites = {"citations": cited(answer, len(extra["sources"]))} if "sources" in extra else {}
    yield _chunk(base, {}, "stop", **cites)
    if include_usage:
        body = {**base, "object": "chat.completion.chunk", "choices": [], "usage": _usage(state, question, answer)}
        yield f"data: {json.dumps(body)}\n\n"
    yield "data: [DONE]\n\n"
