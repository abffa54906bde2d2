"""Tests of the answer model, streamed chat, ``--llm`` endpoints (``searchr3.answers``)."""
