"""The stage-1 loss terms (Search-R3): LM, KL to the base model, InfoNCE, triplet margin."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def info_nce(queries: torch.Tensor, docs: torch.Tensor, tau: float) -> torch.Tensor:
    """InfoNCE over cosine similarities. ``queries`` ``[B, H]`` and ``docs`` ``[B + M, H]``
    are unit vectors; ``docs[i]`` is query i's positive, every other row (the other
    positives in the batch and all hard negatives) is a negative."""
    logits = queries @ docs.T / tau
    return F.cross_entropy(logits, torch.arange(queries.shape[0], device=queries.device))


def triplet(queries: torch.Tensor, docs: torch.Tensor, margin: float) -> torch.Tensor:
    """Margin loss ``relu(margin - cos(q, pos) + cos(q, hardest negative))``, with the
    hardest negative taken over all non-positive rows of ``docs``."""
    sims = queries @ docs.T
    b = queries.shape[0]
    positive = sims[torch.arange(b), torch.arange(b)]
    masked = sims.clone()
    masked[torch.arange(b), torch.arange(b)] = float("-inf")
    return F.relu(margin - positive + masked.max(dim=1).values).mean()


def lm_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of ``logits`` ``[B, N, V]`` for ``targets`` ``[B, N]`` (the assistant turn)."""
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), targets.reshape(-1))


def kl_to_base(logits: torch.Tensor, base_logits: torch.Tensor) -> torch.Tensor:
    """Mean over positions of KL(policy || base) of the next-token distributions."""
    logp = F.log_softmax(logits.float(), dim=-1)
    base_logp = F.log_softmax(base_logits.float(), dim=-1)
    return (logp.exp() * (logp - base_logp)).sum(-1).mean()
