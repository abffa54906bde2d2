"""Tests of the embedder, batching, the prompt-head cache, prompts (``searchr3.embedding``)."""
