"""Texts in, vectors out: texts to prompt token ids, batching under a token budget, the prompt-head cache,
the read-out at ``<|embed_token|>``, reasoning traces before it (with the loop guard), and
:class:`~searchr3.embedding.embedder.Embedder` that ties them together."""
