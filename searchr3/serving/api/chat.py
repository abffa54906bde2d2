"""``POST /v1/chat/completions``: retrieval over a collection, then an answer from the passages
found, whole or streamed (server-sent events). Earlier user messages make a follow-up question
standalone. The response carries ``search`` (what was searched), ``sources`` (the passages,
numbered as the answer cites them, with ``highlights``: the spans of their best sentences),
``citations``, a low-relevance ``warning`` and, with reasoning, the ``trace``."""

from __future__ import annotations

import collections
import itertools
import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from searchr3.answers.answerers import configured
from searchr3.errors import InvalidInputError, SearchR3Error
from searchr3.serving.api.collections import check_collection_name
from searchr3.serving.api.errors import APIError, from_library
from searchr3.serving.api.schemas import CHAT_MODEL_ID, ChatRequest
from searchr3.serving.service import DEFAULT_OPTIONS, Reply

router = APIRouter()


def _sources(service, collection: str, reply: Reply) -> list[dict]:
    spans = reply.highlights or [[] for _ in reply.passages]
    return [{"index": h.rank, "id": h.id, "score": round(float(h.score), 6), "text": h.text, "metadata": h.metadata,
             "highlights": [list(span) for span in found],
             "link": service.links.url(collection, h.id, h.metadata, h.text)}
            for h, found in zip(reply.passages, spans)]


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


def _base(body: ChatRequest) -> dict:
    return {"id": f"chatcmpl-{uuid.uuid4().hex}", "created": int(time.time()), "model": body.model}


def _whole(state, body: ChatRequest, extra: dict, prompt: str, answer: str, **more) -> dict:
    return {**_base(body), "object": "chat.completion",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": answer}, "finish_reason": "stop"}],
            "usage": _usage(state, prompt, answer), **extra, **more}


def _plain_chat(state, body: ChatRequest):
    """``searchr3-chat``: the local model answers the conversation itself, no retrieval."""
    messages = [("system" if m.role == "developer" else m.role, m.text()) for m in body.messages
                if m.role in ("system", "developer", "user", "assistant")]
    chat = configured(state.service.chat, **_settings(body))
    prompt = "\n".join(text for _, text in messages)
    return _respond(state, body, {}, prompt, _as_replies(chunk.text for chunk in chat.stream(messages)))


def _as_replies(pieces: Iterator[str]) -> Iterator[Reply]:
    """A plain chat's text pieces as growing replies (no passages, nothing cited)."""
    reply = Reply()
    try:
        for piece in pieces:
            reply.answer += piece
            yield replace(reply)
    except SearchR3Error as exc:
        reply.failed(exc)
    reply.done = True
    yield reply


@router.post("/v1/chat/completions", response_model=None)
def chat_completions(body: ChatRequest, request: Request):
    """Answer the last user message from the passages retrieved for it (model ``searchr3``, one
    :meth:`~searchr3.serving.service.ChatService.ask`, as the page does), or the conversation with the
    local model alone (``searchr3-chat``)."""
    state = request.app.state
    state.check_model(body.model, chat=True)
    if body.model == CHAT_MODEL_ID:
        return _plain_chat(state, body)
    service = state.service
    collection = check_collection_name(body.collection or service.location.collection, "collection")
    overrides = {k: v for k, v in (("k", body.k), ("reasoning", body.reasoning), ("hybrid", body.hybrid))
                 if v is not None}
    try:
        options = DEFAULT_OPTIONS.merged(**overrides)
    except SearchR3Error as exc:
        raise from_library(exc) from None
    question = body.question()
    replies = service.ask(question, options, collection, body.history(), **_settings(body))
    first = next(r for r in replies if r.passages or r.done)  # with reasoning, the trace steps come first
    if first.failure and not first.passages:  # a bad question, or the search failed
        param = "messages" if isinstance(first.failure, InvalidInputError) else None
        raise from_library(first.failure, param) from None
    if not first.passages and not service.has_collection(collection):
        raise APIError(404, f"no collection '{collection}': add documents first (POST"
                       f" /v1/collections/{collection}/files, or python -m ingest)", "collection_not_found",
                       "collection")
    extra = {"search": first.search or question.strip(), "sources": _sources(service, collection, first),
             "trace": first.trace, "warning": first.warning}
    return _respond(state, body, extra, question, itertools.chain([first], replies))


def _respond(state, body: ChatRequest, extra: dict, prompt: str, replies: Iterator[Reply]):
    """The replies as the completion: server-sent events, or whole (an error then as its status);
    with passages in ``extra``, the citations of the last reply."""
    if body.stream:
        return _event_stream(state, body, extra, prompt, replies)
    last = collections.deque(replies, maxlen=1)[0]
    if last.failure:
        raise from_library(last.failure, "messages") from None
    cites = {"citations": last.citations} if "sources" in extra else {}
    return _whole(state, body, extra, prompt, last.answer, **cites)


def _event_stream(state, body: ChatRequest, extra: dict, prompt: str, replies: Iterator[Reply]) -> StreamingResponse:
    """The replies as OpenAI's server-sent events: the first chunk with ``extra`` (sources, trace, …),
    then the answer's new text chunk by chunk, then the citations (with passages) and usage."""
    base = _base(body)
    include_usage = bool(body.stream_options and body.stream_options.include_usage)

    def events() -> Iterator[str]:
        yield _chunk(base, {"role": "assistant", "content": ""}, **extra)
        last = Reply()
        for reply in replies:
            if reply.answer[len(last.answer):]:
                yield _chunk(base, {"content": reply.answer[len(last.answer):]})
            last = reply
            if reply.failure:  # the status is already sent: report in the stream, as OpenAI does
                yield f"data: {json.dumps(from_library(reply.failure, 'messages').body())}\n\n"
                return
        cites = {"citations": last.citations} if "sources" in extra else {}
        yield _chunk(base, {}, "stop", **cites)
        if include_usage:
            usage = _usage(state, prompt, last.answer)
            yield f"data: {json.dumps({**base, 'object': 'chat.completion.chunk', 'choices': [], 'usage': usage})}\n\n"
        yield "data: [DONE]\n\n"

    return StreamingResponse(events(), media_type="text/event-stream")
