"""Serving searchr3 to people and programs: :class:`~searchr3.serving.service.ChatService` (what the page
and the API do, without either), the OpenAI-compatible HTTP API (``api/``), signed links to source files,
and ``python -m searchr3.serving`` (the API alone, no page)."""
