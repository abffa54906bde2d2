"""Tests of the OpenAI-compatible API (``searchr3.serving``)."""
