"""Tests of score fusion, follow-ups, evidence and grounding (``searchr3.retrieval``)."""
