"""An OpenAI-compatible HTTP API over a :class:`~searchr3.serving.service.ChatService`: embeddings, chat
completions with retrieval, models, and adding documents. Served alone by ``python -m
searchr3.serving`` and beside the page by ``python -m app``."""

from searchr3.serving.api.app import MODEL_ID, create_api
from searchr3.serving.api.security import KEY_ENV, check_bind, is_loopback, page_auth

__all__ = ["KEY_ENV", "MODEL_ID", "check_bind", "create_api", "is_loopback", "page_auth"]
