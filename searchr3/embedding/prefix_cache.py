"""Prompt heads read once: the keys and values of the tokens every prompt of a role starts with.

Every document prompt begins with the same chat-template head (system message and the start
of the user turn), as does every query prompt; the model reads it identically each time, since
attention is causal. :class:`PromptPrefixes` computes a head's keys and values once per model
and starts each batch from them, so only the text and the tail are read. In float32 the vectors
equal those of the whole prompt to ~1e-6; in bfloat16 to a cosine of ~0.9998 (rounding), and a
text's vector does not depend on its batch mates either way.

Only for frozen weights: a model being trained would change under the stored states.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Sequence

import torch


def _cache_keyword(decoder: torch.nn.Module) -> str:
    """The decoder's name for a key/value cache argument: ``cache`` in recent transformers,
    ``past_key_values`` before (deprecated since, and due to go in 5.40)."""
    return "cache" if "cache" in inspect.signature(decoder.forward).parameters else "past_key_values"


def _returned_cache(out):
    cache = getattr(out, "cache", None)
    return out.past_key_values if cache is None else cache


class PromptPrefixes:
    """Stored keys and values of the given prompt ``heads`` (token id lists) for ``model``."""

    def __init__(self, model: torch.nn.Module, heads: Sequence[Sequence[int]]):
        self.model = model
        # longest first: a batch starts from the longest head all of its prompts share
        self.heads = sorted({tuple(h) for h in heads if h}, key=len, reverse=True)
        self._states: dict[tuple[int, ...], list[tuple[torch.Tensor, torch.Tensor]]] = {}
        self._lock = threading.Lock()
        self._cache_keyword = _cache_keyword(model.get_decoder())

    def head_of(self, sequences: Sequence[Sequence[int]]) -> tuple[int, ...]:
        """The longest known head that every sequence starts with and outlasts, else ``()``."""
        for head in self.heads:
            n = len(head)
            if all(len(s) > n and tuple(s[:n]) == head for s in sequences):
                return head
        return ()

    def _states_of(self, head: tuple[int, ...]) -> list[tuple[torch.Tensor, torch.Tensor]]:
        with self._lock:
            if head not in self._states:
                device = next(self.model.parameters()).device
                with torch.inference_mode():
                    out = self.model.get_decoder()(input_ids=torch.tensor([head], device=device), use_cache=True)
                self._states[head] = [(layer.keys, layer.values) for layer in _returned_cache(out).layers]
            return self._states[head]

    def final_hidden(self, head: tuple[int, ...], input_ids: torch.Tensor,
                     attention_mask: torch.Tensor) -> torch.Tensor:
        """Final-layer hidden states ``[B, T, H]`` of ``input_ids`` (right-padded rests of
        prompts that all start with ``head``), read after the stored ``head``."""
        from transformers import DynamicCache

        batch = input_ids.shape[0]
        cache = DynamicCache(config=self.model.config)
        for i, (keys, values) in enumerate(self._states_of(head)):
            cache.update(keys.expand(batch, -1, -1, -1), values.expand(batch, -1, -1, -1), i)
        seen = torch.ones(batch, len(head), dtype=attention_mask.dtype, device=attention_mask.device)
        mask = torch.cat([seen, attention_mask], 1)
        out = self.model.get_decoder()(input_ids=input_ids, attention_mask=mask, use_cache=True,
                                       **{self._cache_keyword: cache})
        return out.last_hidden_state
