"""Stage-2 rewards and advantages: retrieval quality of a rollout's embedding (or its gain over
the plain query's), a format reward for the trace, group-normalised (GRPO-style) advantages,
the groups that carry no signal, and the queries with room to improve."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def retrieval_reward(rank: np.ndarray | int) -> np.ndarray:
    """Reciprocal rank of the positive document (1 at the top, →0 further down)."""
    return 1.0 / np.asarray(rank, dtype=np.float64)


def softmax_reward(scores: np.ndarray, positives, temperature: float) -> np.ndarray:
    """Probability of the positive under a softmax over all corpus scores ``[n, docs]`` at
    ``temperature``: like 1/rank it rewards the positive on top, but it keeps growing with
    the margin, so a group whose rollouts all rank it first still carries a signal."""
    logits = np.asarray(scores, dtype=np.float64) / temperature
    logits -= logits.max(axis=1, keepdims=True)
    log_z = np.log(np.exp(logits).sum(axis=1))
    return np.exp(logits[np.arange(len(logits)), np.asarray(positives)] - log_z)


@dataclass(frozen=True)
class FormatRule:
    """What a well-formed rollout looks like: a trace, the embed token emitted by the
    model itself, and at most ``max_tokens`` generated tokens."""

    max_tokens: int = 64
    missing_embed_penalty: float = 1.0
    empty_trace_penalty: float = 0.5
    too_long_penalty: float = 0.5


def format_reward(
    trace: str, emitted_embed_token: bool, generated_tokens: int, rule: FormatRule = FormatRule()
) -> float:
    """0 for a well-formed rollout, minus the penalty of each broken rule."""
    reward = 0.0
    if not emitted_embed_token:
        reward -= rule.missing_embed_penalty
    if not trace.strip():
        reward -= rule.empty_trace_penalty
    if generated_tokens > rule.max_tokens:
        reward -= rule.too_long_penalty
    return reward


def group_advantages(rewards: np.ndarray, group_size: int, eps: float = 1e-6) -> np.ndarray:
    """``(r - mean) / (std + eps)`` within consecutive groups of ``group_size`` rollouts
    (the rollouts of one query); a group whose rewards are all equal gets zeros."""
    r = np.asarray(rewards, dtype=np.float64)
    if r.size % group_size:
        raise ValueError(f"{r.size} rewards do not split into groups of {group_size}")
    groups = r.reshape(-1, group_size)
    centred = groups - groups.mean(axis=1, keepdims=True)
    return (centred / (groups.std(axis=1, keepdims=True) + eps)).reshape(-1)


def informative_groups(rewards: np.ndarray, group_size: int, tolerance: float = 1e-9) -> np.ndarray:
    """Per group of ``group_size`` consecutive rollouts: True where the rewards differ (a group
    whose rollouts all score the same has zero advantages and teaches the policy nothing)."""
    groups = np.asarray(rewards, dtype=np.float64).reshape(-1, group_size)
    return (groups.max(axis=1) - groups.min(axis=1)) > tolerance


def with_room(plain_ranks: np.ndarray, min_rank: int) -> np.ndarray:
    """Indices of the queries whose plain (no-trace) query ranks its positive at ``min_rank`` or
    below: those a trace can still improve (``min_rank`` 1 keeps every query)."""
    return np.flatnonzero(np.asarray(plain_ranks) >= min_rank)
