"""Prompt batches for the trainers: left-padded, longest first, padded per span."""

from __future__ import annotations

import torch

from searchr3.embedding.batching import longest_first, pad_left


class Seqs:
    """Left-padded prompt batches with position ids, so every prompt ends at the last
    column: the embed token is in the last column and each row's assistant turn (of
    ``assistant[i]`` tokens) in the columns before it.

    Rows are held longest first (``sort``, the default), and :meth:`rows` pads a span of
    consecutive rows only to its own longest: a chunk of short passages is not padded to the
    batch's longest (chunks of the training passages in the pairs' order are half padding; held
    longest first, a quarter). :meth:`restore` puts per-row results back in the caller's order.
    """

    def __init__(self, ids: list[list[int]], pad_id: int, device, assistant: list[int] | None = None,
                 sort: bool = True):
        order = longest_first([len(row) for row in ids]) if sort else list(range(len(ids)))
        input_ids, mask = pad_left([ids[i] for i in order], pad_id)
        self.input_ids = input_ids.to(device)
        self.attention_mask = mask.to(device)
        self.position_ids = (mask.cumsum(1) - 1).clamp(min=0).to(device)
        self.lengths = [len(ids[i]) for i in order]
        self.assistant = [assistant[i] for i in order] if assistant else [0] * len(ids)
        self.order = order
        self.inverse = torch.argsort(torch.tensor(order, dtype=torch.long)).to(device)  # held row of each caller row

    def __len__(self) -> int:
        return self.input_ids.shape[0]

    def rows(self, start: int, end: int) -> dict:
        """Rows ``start:end`` (in held order), without the columns that are padding in all of them."""
        width = max(self.lengths[start:end])
        names = ("input_ids", "attention_mask", "position_ids")
        return {name: getattr(self, name)[start:end, -width:] for name in names}

    def padded_tokens(self, spans: list[tuple[int, int]]) -> int:
        """Token positions (padding included) that forward passes over ``spans`` compute."""
        return sum((end - start) * max(self.lengths[start:end]) for start, end in spans)

    def restore(self, per_row: torch.Tensor) -> torch.Tensor:
        """``per_row`` (one row per held row, in held order) in the caller's order."""
        return per_row[self.inverse]
