"""``POST /v1/embeddings``: document or query vectors, as floats or base64 float32."""

from __future__ import annotations

import base64

import numpy as np
from fastapi import APIRouter, Request

from searchr3.errors import SearchR3Error
from searchr3.serving.api.errors import APIError, from_library
from searchr3.serving.api.schemas import MAX_INPUTS, EmbeddingsRequest

router = APIRouter()


def _texts(body: EmbeddingsRequest) -> list[str]:
    texts = [body.input] if isinstance(body.input, str) else body.input
    if not texts:
        raise APIError(400, "input is empty", "invalid_value", "input")
    if not all(isinstance(t, str) for t in texts):
        raise APIError(400, "input must be text: token ids are not accepted (langchain-openai users:"
                       " check_embedding_ctx_length=False)", "invalid_value", "input")
    if len(texts) > MAX_INPUTS:
        raise APIError(400, f"{len(texts):,} inputs; at most {MAX_INPUTS:,} per request", "invalid_value", "input")
    return texts


def _encode(vector: np.ndarray, fmt: str):
    if fmt == "base64":
        return base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode("ascii")
    return vector.tolist()


@router.post("/v1/embeddings")
def create_embeddings(body: EmbeddingsRequest, request: Request) -> dict:
    """Embed ``input`` (a text or a list of texts). Texts longer than the model reads are refused
    (400 ``context_length_exceeded``), never cut."""
    state = request.app.state
    state.check_model(body.model)
    embedder = state.service.embedder
    if body.dimensions is not None and body.dimensions != embedder.dim:
        raise APIError(400, f"dimensions must be {embedder.dim} for this model", "invalid_value", "dimensions")
    if body.reasoning and body.input_type != "query":
        raise APIError(400, "reasoning applies to queries: set input_type to 'query'", "invalid_value", "reasoning")
    texts = _texts(body)
    role = "reasoning" if body.reasoning else body.input_type
    try:
        counts = embedder.ensure_fits(texts, role)
        traces = None
        if body.reasoning:
            reasoned = embedder.reason(texts)
            vectors, traces = [r.vector for r in reasoned], [r.trace for r in reasoned]
        else:
            vectors = embedder.encode(texts, body.input_type).vectors
    except SearchR3Error as exc:
        raise from_library(exc, "input") from None
    tokens = sum(counts)
    data = []
    for i, v in enumerate(vectors):
        item = {"object": "embedding", "index": i, "embedding": _encode(v, body.encoding_format)}
        if traces is not None:
            item["trace"] = traces[i]
        data.append(item)
    return {"object": "list", "data": data, "model": body.model,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}
