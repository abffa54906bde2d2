"""Any answer model: an OpenAI-compatible chat endpoint (llama.cpp, vLLM, Ollama, a hosted
API, or another searchr3 server's ``searchr3-chat``) as a LangChain chat model."""

from __future__ import annotations

import os

from searchr3.errors import ModelLoadError, ModelNotFoundError

LLM_KEY_ENVS = ("SEARCHR3_LLM_API_KEY", "OPENAI_API_KEY")


def llm_api_key() -> str:
    """The endpoint's key from the environment (``SEARCHR3_LLM_API_KEY``, else ``OPENAI_API_KEY``);
    local servers that want none get a placeholder."""
    return next((os.environ[name] for name in LLM_KEY_ENVS if os.environ.get(name)), "not-needed")


def openai_chat_model(base_url: str, model: str | None = None, api_key: str | None = None,
                      max_tokens: int = 400, timeout: float = 120.0):
    """A streaming ``ChatOpenAI`` on ``base_url`` (e.g. ``http://127.0.0.1:8080/v1``), greedy.

    ``model``: the endpoint's model id; ``None`` takes the first one the endpoint lists (so the
    endpoint is asked once here: :class:`ModelLoadError` when it cannot be reached,
    :class:`ModelNotFoundError` when it lists no model or not the one named).
    """
    import openai
    from langchain_openai import ChatOpenAI

    key = api_key or llm_api_key()
    client = openai.OpenAI(base_url=base_url, api_key=key, max_retries=0, timeout=10)
    try:
        listed = [m.id for m in client.models.list().data]
    except openai.APIError as exc:
        raise ModelLoadError(f"the answer model endpoint {base_url} did not answer: {exc}") from None
    if model is None:
        if not listed:
            raise ModelNotFoundError(f"the answer model endpoint {base_url} lists no model; name one with --llm-model")
        model = listed[0]
    elif model not in listed:
        raise ModelNotFoundError(f"the answer model endpoint {base_url} has no model {model!r}"
                                 f" (it lists {', '.join(listed[:5]) or 'none'})")
    return ChatOpenAI(base_url=base_url, api_key=key, model=model, temperature=0.0, max_tokens=max_tokens,
                      streaming=True, timeout=timeout, max_retries=1)
