"""Loss terms. Stage 1 (Search-R3): LM, KL to the base model, InfoNCE, triplet margin, and
score distillation from a teacher encoder.
Stage 2: token log-probabilities of rollouts and the GRPO loss (clipped surrogate + k3 KL)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from searchr3.embedding.batching import pad_right


def info_nce(queries: torch.Tensor, docs: torch.Tensor, tau: float) -> torch.Tensor:
    """InfoNCE over cosine similarities. ``queries`` ``[B, H]`` and ``docs`` ``[B + M, H]``
    are unit vectors; ``docs[i]`` is query i's positive, every other row (the other
    positives in the batch and all hard negatives) is a negative."""
    logits = queries @ docs.T / tau
    return F.cross_entropy(logits, torch.arange(queries.shape[0], device=queries.device))


def bank_info_nce(queries: torch.Tensor, bank: torch.Tensor, labels: torch.Tensor, tau: float,
                  excluded: list[torch.Tensor] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """InfoNCE of each query over a whole bank of passage vectors: ``queries`` ``[B, H]``,
    ``bank`` ``[N, H]`` (unit vectors, no gradient needed), ``labels`` ``[B]`` the row of each
    query's positive; ``excluded[i]``: bank rows left out of query i's negatives (likely false
    negatives). Returns the loss and whether each query ranks its positive first."""
    logits = queries.float() @ bank.float().T / tau
    if excluded is not None:
        for i, rows in enumerate(excluded):
            if len(rows):
                logits[i, rows.to(logits.device)] = float("-inf")
    labels = labels.to(logits.device)
    return F.cross_entropy(logits, labels), logits.argmax(dim=-1) == labels


def triplet(queries: torch.Tensor, docs: torch.Tensor, margin: float) -> torch.Tensor:
    """Margin loss ``relu(margin - cos(q, pos) + cos(q, hardest negative))``, with the
    hardest negative taken over all non-positive rows of ``docs``."""
    sims = queries @ docs.T
    b = queries.shape[0]
    positive = sims[torch.arange(b), torch.arange(b)]
    masked = sims.clone()
    masked[torch.arange(b), torch.arange(b)] = float("-inf")
    return F.relu(margin - positive + masked.max(dim=1).values).mean()


def score_distillation(queries: torch.Tensor, docs: torch.Tensor, teacher: torch.Tensor, tau: float,
                       teacher_tau: float, rows: torch.Tensor | None = None) -> torch.Tensor:
    """KL(teacher || model) of each query's softmax over the batch's passages, averaged over
    queries: ``teacher`` ``[B, B + M]`` holds a teacher encoder's cosines for the same rows and
    columns as ``queries @ docs.T``, so the model learns the teacher's graded order, not only
    which passage is the positive. ``rows`` (bool ``[B]``): distil only these queries (the
    loss is 0 when none is kept)."""
    model_logp = F.log_softmax(queries @ docs.T / tau, dim=-1)
    teacher_logp = F.log_softmax(teacher.to(model_logp) / teacher_tau, dim=-1)
    per_query = (teacher_logp.exp() * (teacher_logp - model_logp)).sum(dim=-1)
    if rows is None:
        return per_query.mean()
    rows = rows.to(per_query.device)
    return (per_query * rows).sum() / rows.sum().clamp(min=1)


def teacher_agrees(teacher: torch.Tensor) -> torch.Tensor:
    """Rows (bool ``[B]``) of a teacher score matrix ``[B, B + M]`` whose highest score is the
    row's own labelled positive (column ``i``): where the teacher and the label agree."""
    return teacher.argmax(dim=-1) == torch.arange(teacher.shape[0], device=teacher.device)


def lm_loss(logits: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Cross-entropy of ``logits`` ``[B, N, V]`` for ``targets`` ``[B, N]`` (the assistant turn),
    averaged over the positions ``mask`` keeps (all when ``None``)."""
    if mask is not None:
        targets = targets.masked_fill(~mask, -100)
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), targets.reshape(-1), ignore_index=-100)


def kl_to_base(logits: torch.Tensor, base_logits: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Mean over positions (those ``mask`` keeps) of KL(policy || base) of the next-token distributions."""
    logp = F.log_softmax(logits.float(), dim=-1)
    base_logp = F.log_softmax(base_logits.float(), dim=-1)
    kl = (logp.exp() * (logp - base_logp)).sum(-1)
    return kl.mean() if mask is None else (kl * mask).sum() / mask.sum().clamp(min=1)


# -- stage 2 (GRPO) -------------------------------------------------------------------------


def token_logprobs(model, prompts: list[list[int]], generated: list[list[int]], pad_id: int, device):
    """Log-probabilities ``[n, T]`` under ``model`` of each sequence's ``generated`` tokens
    after its ``prompts`` ids, and the mask ``[n, T]`` of real (non-padding) positions."""
    seqs = [p + g for p, g in zip(prompts, generated)]
    ids, attention = pad_right(seqs, pad_id)
    ids, attention = ids.to(device), attention.to(device)
    start = min(len(p) for p in prompts) - 1  # the first position that predicts a generated token
    logits = model(input_ids=ids, attention_mask=attention, use_cache=False).logits[:, start:-1].float()
    targets = ids[:, start + 1 :]
    logp = logits.gather(-1, targets.unsqueeze(-1)).squeeze(-1) - torch.logsumexp(logits, dim=-1)
    pos = torch.arange(start + 1, ids.shape[1], device=device)
    lo = torch.tensor([len(p) for p in prompts], device=device)[:, None]
    hi = lo + torch.tensor([len(g) for g in generated], device=device)[:, None]
    mask = (pos[None, :] >= lo) & (pos[None, :] < hi)
    width = int(hi.max()) - start - 1
    return logp[:, :width], mask[:, :width]


def grpo_loss(logp, old_logp, ref_logp, mask, advantages, clip: float, beta: float):
    """Per-sequence mean over generated tokens of the clipped surrogate and ``beta`` x KL
    (k3: ``exp(ref - logp) - (ref - logp) - 1``); returns (loss per sequence, KL per sequence)."""
    ratio = torch.exp(logp - old_logp)
    adv = advantages[:, None]
    surrogate = torch.minimum(ratio * adv, ratio.clamp(1 - clip, 1 + clip) * adv)
    delta = ref_logp - logp
    kl = torch.exp(delta) - delta - 1
    m = mask.float()
    n = m.sum(dim=1).clamp(min=1)
    per_seq = ((-surrogate + beta * kl) * m).sum(dim=1) / n
    return per_seq, (kl * m).sum(dim=1) / n
