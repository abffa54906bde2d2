"""The Search-R3 embedder: texts in, L2-normalised float32 vectors out."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import cached_property, partial

import numpy as np
import torch

from searchr3.config import ModelConfig
from searchr3.embedding.batching import pad_right, token_budget_batches
from searchr3.embedding.encoding import MAX_CHARS_PER_TOKEN, PromptEncoder, validate_texts
from searchr3.embedding.prefix_cache import PromptPrefixes
from searchr3.embedding.readout import embed_states, vectors_from_hidden
from searchr3.embedding.reasoning import Sampling, Trace, TraceCallback, TraceGenerator
from searchr3.errors import InputTooLongError
from searchr3.model.adapter import adapter_identity, check_adapter
from searchr3.model.loading import LoadedModel, load_model
from searchr3.model.threads import fit_threads

log = logging.getLogger(__name__)

_SHARED: dict[ModelConfig, Embedder] = {}
_SHARED_LOCK = threading.Lock()
_LIMIT_NAMES = {"query": "max_query_tokens", "document": "max_document_tokens", "reasoning": "max_query_tokens"}


@dataclass(frozen=True)
class Encoded:
    """Vectors ``[N, dim]`` with, per text, its token count and whether it was cut."""

    vectors: np.ndarray
    text_tokens: list[int]
    truncated: list[bool]


@dataclass(frozen=True)
class ReasonedQuery:
    """A query embedded after reasoning: the trace shown to users and its vector."""

    query: str
    trace: str
    vector: np.ndarray
    emitted_embed_token: bool
    truncated: bool


class Embedder:
    """Embeds documents and queries at ``<|embed_token|>``, optionally after reasoning.

    Build one with :meth:`load`, or with :meth:`from_model` over a model already in memory
    (training does this with the policy it updates). Calls are
    deterministic: a text gives the same vector alone or inside any batch (to ~1e-5).
    Where the configuration names a query adapter, plain queries are read by a second model
    (:attr:`query_embedder`, loaded on the first query) into the same vector space.
    """

    def __init__(self, loaded: LoadedModel, config: ModelConfig | None = None,
                 query_side: Callable[[], Embedder] | None = None, query_adapter_id: str | None = None):
        self.loaded = loaded
        self.config = config or ModelConfig()
        self._query_side = query_side
        self._query_adapter_id = query_adapter_id
        self._query_embedder: Embedder | None = None
        self._query_lock = threading.Lock()
        tok = loaded.tokenizer
        self._encoders = {
            "query": PromptEncoder(tok, "query", self.config.max_query_tokens),
            "document": PromptEncoder(tok, "document", self.config.max_document_tokens),
            "reasoning": PromptEncoder(tok, "reasoning", self.config.max_query_tokens),
        }
        self._pad_id = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
        # the prompt heads are read once per model, unless its weights may change (training)
        heads = [e.head_ids for e in self._encoders.values()]
        reuse = loaded.frozen and self.config.reuse_prompt_heads
        self._prefixes = PromptPrefixes(loaded.model, heads) if reuse else None

    @cached_property
    def _generator(self) -> TraceGenerator:
        return TraceGenerator(self.loaded)

    @classmethod
    def load(cls, config: ModelConfig | None = None) -> Embedder:
        """Load the configured model (see :func:`searchr3.model.loading.load_model`)."""
        config = config or ModelConfig()
        loaded = load_model(config)
        side = config.query_side()
        if side is None:
            return cls(loaded, config)
        check_adapter(side.adapter_path(), loaded.base_id)  # fail now, not at the first query
        return cls(loaded, config, partial(_query_embedder, side), adapter_identity(side.adapter_path()))

    @classmethod
    def shared(cls, config: ModelConfig | None = None) -> Embedder:
        """The embedder for ``config``, loaded once per process and then reused (integrations
        that build many small objects, such as Chroma embedding functions, share one model)."""
        config = config or ModelConfig()
        with _SHARED_LOCK:
            if config not in _SHARED:
                _SHARED[config] = cls.load(config)
            return _SHARED[config]

    @classmethod
    def from_model(cls, model, tokenizer, *, base_id: str, adapter_id: str | None = "in-memory",
                   config: ModelConfig | None = None) -> Embedder:
        """An embedder over ``model`` as it is now (later weight updates show in its vectors).

        ``tokenizer`` must hold ``<|embed_token|>``; ``base_id`` and ``adapter_id`` make up the
        fingerprint; ``config`` gives the limits (its model and adapter fields are unused).
        """
        return cls(LoadedModel.from_model(model, tokenizer, base_id, adapter_id), config)

    @property
    def fingerprint(self) -> str:
        """Identity of this embedder's vector space (base, adapter, prompt version)."""
        return self.loaded.fingerprint

    @property
    def query_fingerprint(self) -> str:
        """Identity of the plain query vectors: :attr:`fingerprint`, plus the query adapter's
        identity where one reads them."""
        if self._query_side is None:
            return self.fingerprint
        return f"{self.fingerprint}|queries={self._query_adapter_id}"

    @property
    def query_embedder(self) -> Embedder:
        """The embedder that reads plain queries: this one, or the query adapter's (loaded once,
        on first use)."""
        if self._query_side is None:
            return self
        with self._query_lock:
            if self._query_embedder is None:
                self._query_embedder = self._query_side()
        return self._query_embedder

    @cached_property
    def document_side(self) -> Embedder:
        """This embedder with plain queries read by the document model too (itself when it has no
        query adapter): the one model that traces, documents and queries then share."""
        if self._query_side is None:
            return self
        return Embedder(self.loaded, self.config.with_(query_adapter=None))

    @property
    def dim(self) -> int:
        """Length of every vector."""
        return int(self.loaded.model.get_input_embeddings().weight.shape[1])

    @property
    def tokenizer(self):
        return self.loaded.tokenizer

    def vectors_for_ids(self, sequences: Sequence[list[int]]) -> np.ndarray:
        """Vectors for prompt id lists that each contain the embed token, in input order."""
        out = np.zeros((len(sequences), self.dim), dtype=np.float32)
        # prompts that start with a stored head are read from after it (batched per head,
        # so a prompt's vector never depends on its batch mates)
        groups: dict[tuple[int, ...], list[int]] = {}
        for i, seq in enumerate(sequences):
            head = self._prefixes.head_of([seq]) if self._prefixes is not None else ()
            groups.setdefault(head, []).append(i)
        device = self.loaded.device
        with torch.inference_mode():
            for head, members in groups.items():
                rests = [sequences[i][len(head) :] for i in members]
                for batch in token_budget_batches(
                    [len(r) + len(head) for r in rests], self.config.token_budget, self.config.max_batch_size
                ):
                    fit_threads()
                    ids, mask = pad_right([rests[j] for j in batch], self._pad_id)
                    ids, mask = ids.to(device), mask.to(device)
                    if head:
                        hidden = self._prefixes.final_hidden(head, ids, mask)
                        vecs = vectors_from_hidden(hidden, ids, self.loaded.embed_token_id)
                    else:
                        vecs = embed_states(self.loaded.model, ids, mask, self.loaded.embed_token_id)
                    out[[members[j] for j in batch]] = vecs.cpu().numpy()
        return out

    def encode(self, texts: Sequence[str], role: str = "document") -> Encoded:
        """Embed ``texts`` with the ``query`` or ``document`` prompt; report truncation."""
        if role not in ("query", "document"):
            raise ValueError(f"role must be 'query' or 'document', not {role!r}")
        if role == "query" and self._query_side is not None:
            return self.query_embedder.encode(texts, role)
        prompts = self._encoders[role].encode(validate_texts(texts))
        vectors = self.vectors_for_ids([p.ids for p in prompts])
        return Encoded(vectors, [p.text_tokens for p in prompts], [p.truncated for p in prompts])

    def ensure_fits(self, texts: Sequence[str], role: str = "document") -> list[int]:
        """Each text's token count, after validating ``texts``; raises :class:`InputTooLongError` for
        the first one longer than the model reads for ``role`` (``query``, ``document`` or
        ``reasoning``) instead of cutting it."""
        texts = validate_texts(texts)
        encoder = self._encoders[role]
        prompts = encoder.encode(texts)
        for i, prompt in enumerate(prompts):
            if prompt.truncated:
                more = "+" if len(texts[i]) > encoder.max_text_tokens * MAX_CHARS_PER_TOKEN else ""  # counted in part
                raise InputTooLongError(
                    f"text #{i} is {prompt.text_tokens:,}{more} tokens; the limit is"
                    f" {encoder.max_text_tokens:,} ({_LIMIT_NAMES[role]})"
                )
        return [p.text_tokens for p in prompts]

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        """Document vectors ``[N, dim]``, float32, unit norm."""
        return self.encode(texts, "document").vectors

    def embed_queries(self, texts: Sequence[str], reasoning: bool = False) -> np.ndarray:
        """Query vectors ``[N, dim]``; with ``reasoning=True`` the model reasons first.

        Use :meth:`reason` to also get the traces.
        """
        if reasoning:
            results = self.reason(texts)
            return np.stack([r.vector for r in results]) if results else np.zeros((0, self.dim), np.float32)
        return self.encode(texts, "query").vectors

    def embed_query(self, text: str, reasoning: bool = False) -> np.ndarray:
        """One query vector ``[dim]``."""
        return self.embed_queries([text], reasoning=reasoning)[0]

    def traces(
        self, texts: Sequence[str], sampling: Sampling | None = None, max_new_tokens: int | None = None,
        on_trace: TraceCallback | None = None, opening: str = "",
    ) -> list[Trace]:
        """Raw reasoning rollouts (token ids included), ``sampling.num_samples`` per text;
        ``on_trace`` (one text, one sample) receives the trace as it is written. ``opening``
        is written into the assistant turn first and the model continues it (the traces'
        ``text`` is the continuation; their ids include the opening)."""
        prompts = self._encoders["reasoning"].encode(validate_texts(texts))
        if opening:
            opening_ids = self.tokenizer(opening, add_special_tokens=False)["input_ids"]
            prompts = [replace(p, ids=p.ids + opening_ids) for p in prompts]
        budget = self.config.reasoning_tokens if max_new_tokens is None else max_new_tokens
        return self._generator.generate(prompts, budget, sampling or Sampling(), self.config.max_batch_size, on_trace)

    def reason(self, texts: Sequence[str], sampling: Sampling | None = None,
               on_trace: TraceCallback | None = None) -> list[ReasonedQuery]:
        """Reason about each query (greedy by default), then embed at the embed token;
        ``on_trace`` (one query) receives the trace as it is written."""
        texts = validate_texts(texts)
        traces = self.traces(texts, sampling, on_trace=on_trace)
        vectors = self.vectors_for_ids([t.final_ids for t in traces])
        return [
            ReasonedQuery(texts[t.query_index], t.text, v, t.emitted_embed_token, t.query_truncated)
            for t, v in zip(traces, vectors)
        ]

    def embed_with_traces(self, texts: Sequence[str], traces: Sequence[str]) -> np.ndarray:
        """Query vectors read after the given traces, as if the model had written them (an
        empty trace: the embed sentence right after the query). For diagnostics and targets."""
        texts = validate_texts(texts)
        if len(traces) != len(texts):
            raise ValueError(f"{len(texts)} queries but {len(traces)} traces")
        prompts = self._encoders["reasoning"].encode(texts)
        return self.vectors_for_ids([self._generator.final_ids(p, t) for p, t in zip(prompts, traces)])

    # sentence-transformers-style names, for users who come from there

    def encode_query(self, sentences: str | Sequence[str], *, reasoning: bool = False,
                     convert_to_tensor: bool = False) -> np.ndarray | torch.Tensor:
        """Query vectors (``[dim]`` for one string, ``[N, dim]`` for a list), unit norm."""
        return self._encode_like_st(sentences, lambda texts: self.embed_queries(texts, reasoning), convert_to_tensor)

    def encode_document(self, sentences: str | Sequence[str], *,
                        convert_to_tensor: bool = False) -> np.ndarray | torch.Tensor:
        """Document vectors (``[dim]`` for one string, ``[N, dim]`` for a list), unit norm."""
        return self._encode_like_st(sentences, self.embed_documents, convert_to_tensor)

    @staticmethod
    def similarity(a, b) -> torch.Tensor:
        """Cosine similarities ``[len(a), len(b)]`` between two sets of vectors (or two vectors)."""
        a = torch.as_tensor(np.asarray(a, dtype=np.float32)).reshape(-1, np.shape(a)[-1])
        b = torch.as_tensor(np.asarray(b, dtype=np.float32)).reshape(-1, np.shape(b)[-1])
        return torch.nn.functional.normalize(a, dim=-1) @ torch.nn.functional.normalize(b, dim=-1).T

    @staticmethod
    def _encode_like_st(sentences, embed, convert_to_tensor: bool):
        one = isinstance(sentences, str)
        vectors = embed([sentences] if one else list(sentences))
        out = vectors[0] if one else vectors
        return torch.from_numpy(out) if convert_to_tensor else out


def _query_embedder(config: ModelConfig) -> Embedder:
    return Embedder(load_model(config), config)
