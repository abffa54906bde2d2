"""The Search-R3 read-out: the final-layer hidden state at ``<|embed_token|>``.

This is the only place that turns model activations into search vectors; inference and
training both call :func:`embed_states`.
"""

from __future__ import annotations

import torch


def embed_positions(input_ids: torch.Tensor, embed_token_id: int) -> torch.Tensor:
    """Index of the last ``embed_token_id`` in each row of ``input_ids`` (``[B, T]``).

    Raises ``ValueError`` if a row holds no embed token.
    """
    hits = input_ids == embed_token_id
    if not bool(hits.any(dim=1).all()):
        raise ValueError("every sequence must contain the embed token")
    positions = torch.arange(input_ids.shape[1], device=input_ids.device).expand_as(input_ids)
    return torch.where(hits, positions, -1).amax(dim=1)


def final_hidden(model: torch.nn.Module, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Final-layer (post-norm) hidden states ``[B, T, H]``, skipping the LM head."""
    backbone = model.get_decoder()
    return backbone(input_ids=input_ids, attention_mask=attention_mask, use_cache=False).last_hidden_state


def gather_at(hidden: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
    """Rows ``hidden[b, positions[b]]`` as ``[B, H]``."""
    return hidden[torch.arange(hidden.shape[0], device=hidden.device), positions]


def vectors_from_hidden(
    hidden: torch.Tensor, input_ids: torch.Tensor, embed_token_id: int, normalize: bool = True
) -> torch.Tensor:
    """Search vectors ``[B, H]`` from final hidden states ``[B, T, H]`` of ``input_ids``."""
    vectors = gather_at(hidden, embed_positions(input_ids, embed_token_id)).float()
    return torch.nn.functional.normalize(vectors, dim=-1) if normalize else vectors


def embed_states(
    model: torch.nn.Module,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    embed_token_id: int,
    normalize: bool = True,
) -> torch.Tensor:
    """Search vectors ``[B, H]`` (float32, L2-normalised unless ``normalize=False``)."""
    return vectors_from_hidden(final_hidden(model, input_ids, attention_mask), input_ids, embed_token_id, normalize)
