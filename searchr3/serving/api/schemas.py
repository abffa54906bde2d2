"""Request bodies of the OpenAI-compatible API, with searchr3's documented extra fields."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

MAX_INPUTS = 2048  # texts in one embeddings request (OpenAI's limit too)


MODEL_ID = "searchr3"
CHAT_MODEL_ID = "searchr3-chat"  # the local model chatting, no retrieval (chat completions only)

class EmbeddingsRequest(BaseModel):
    """``POST /v1/embeddings``. Beyond OpenAI's fields: ``input_type`` (``"document"``, the
    default, or ``"query"``, which uses the query prompt) and ``reasoning`` (queries only: the
    model writes a reasoning trace before the embed token; the traces come back per item)."""

    model_config = ConfigDict(extra="forbid")

    model: str
    input: str | list[str] | list[int] | list[list[int]]
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = None
    user: str | None = None
    input_type: Literal["document", "query"] = "document"
    reasoning: bool = False


class ContentPart(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: str
    text: str | None = None


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[ContentPart] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):
            return "\n".join(p.text or "" for p in self.content if p.type == "text")
        return self.content or ""


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")

    include_usage: bool = False


class ChatRequest(BaseModel):
    """``POST /v1/chat/completions``: with model ``searchr3`` the last user message (made standalone
    with the earlier ones) is searched in ``collection`` (default: the server's) and answered from
    the passages found; with ``searchr3-chat`` the local model answers the conversation alone.
    Beyond OpenAI's fields: ``collection``, ``k``, ``reasoning`` and ``hybrid`` (search options).
    Other OpenAI sampling fields are accepted and ignored; ``n`` must be 1."""

    model_config = ConfigDict(extra="ignore")

    model: str
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    temperature: float | None = Field(default=None, ge=0, le=2)
    max_tokens: int | None = Field(default=None, ge=1, le=2048)
    max_completion_tokens: int | None = Field(default=None, ge=1, le=2048)
    n: int = Field(default=1, ge=1, le=1)
    collection: str | None = None
    k: int | None = Field(default=None, ge=1, le=50)
    reasoning: bool | None = None
    hybrid: bool | None = None

    def question(self) -> str:
        """The last user message's text (``""`` when there is none)."""
        users = [m for m in self.messages if m.role == "user"]
        return users[-1].text() if users else ""

    def history(self) -> list[str]:
        """The earlier user messages' texts, oldest first (they make a follow-up standalone)."""
        return [m.text() for m in self.messages if m.role == "user"][:-1]
