"""Gradient caching: contrastive losses over batches larger than what fits in memory.

InfoNCE gets better with more in-batch negatives, but a batch of a few hundred prompts with
their activations does not fit in memory. Gradient caching (Gao et al., 2021, "Scaling Deep
Contrastive Learning Batch Size under Memory Limited Setup") splits the work in three:

1. embed every sequence in chunks of ``chunk_size`` **without** an autograd graph;
2. compute the loss on those embeddings and its gradient with respect to each embedding;
3. run each chunk again **with** a graph and back-propagate ``<embedding, cached gradient>``.

The parameter gradient equals that of one forward pass over the whole batch (to rounding);
the price is a second forward pass (about a third more compute), the gain is that memory
grows with ``chunk_size``, not with the batch. ``chunk_size`` is the one setting: as large as
memory allows. Terms that do not need the whole batch (e.g. an LM loss per sequence) are added
per chunk in step 3, on the forward pass that is being run anyway.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from typing import Any

import torch

# (group, start, end, with_grad) -> (embeddings [end - start, H], anything the extra term needs)
Encode = Callable[[int, int, int, bool], tuple[torch.Tensor, Any]]
# (group, start, end, what encode returned beside the embeddings) -> a scalar to add, or None
Extra = Callable[[int, int, int, Any], "torch.Tensor | None"]


class GradientCache:
    """Runs one step of a loss over embeddings with gradient caching (see module docstring).

    Args:
        chunk_size: sequences per forward pass.
        backward: how to back-propagate a scalar (``accelerator.backward`` under accelerate).
        no_sync: a context manager factory that holds back gradient synchronisation between
            processes; every backward pass but the last runs inside it.
    """

    def __init__(self, chunk_size: int, backward: Callable[[torch.Tensor], None] | None = None,
                 no_sync: Callable[[], contextlib.AbstractContextManager] | None = None):
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be at least 1, not {chunk_size}")
        self.chunk_size = chunk_size
        self.backward = backward or torch.Tensor.backward
        self.no_sync = no_sync or contextlib.nullcontext

    def spans(self, n: int) -> list[tuple[int, int]]:
        """``(start, end)`` of each chunk of ``n`` rows."""
        return [(s, min(s + self.chunk_size, n)) for s in range(0, n, self.chunk_size)]

    def step(self, sizes: Sequence[int], encode: Encode, loss: Callable[[list[torch.Tensor]], torch.Tensor],
             extra: Extra | None = None) -> torch.Tensor:
        """Accumulate into the parameters' ``.grad`` the gradient of
        ``loss([embeddings of group g for g in groups]) + sum of extra(...) over chunks``.

        ``sizes[g]`` is the number of sequences in group ``g`` (e.g. queries, documents).
        Returns the (detached) value of ``loss``.
        """
        with torch.no_grad():
            cached = [torch.cat([encode(g, s, e, False)[0] for s, e in self.spans(n)]) for g, n in enumerate(sizes)]
        leaves = [c.detach().requires_grad_() for c in cached]
        value = loss(leaves)
        value.backward()  # gradients of the loss with respect to the embeddings only
        grads = [leaf.grad if leaf.grad is not None else torch.zeros_like(leaf) for leaf in leaves]
        jobs = [(g, s, e) for g, n in enumerate(sizes) for s, e in self.spans(n)]
        for i, (g, s, e) in enumerate(jobs):
            embeddings, aux = encode(g, s, e, True)
            surrogate = (embeddings * grads[g][s:e]).sum()
            added = extra(g, s, e, aux) if extra else None
            if added is not None:
                surrogate = surrogate + added
            with self.no_sync() if i < len(jobs) - 1 else contextlib.nullcontext():
                self.backward(surrogate)
        return value.detach()
