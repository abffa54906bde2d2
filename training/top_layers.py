"""Training only the last decoder layers, with the frozen layers below run once a step.

Stage 1 with gradient caching (:mod:`training.grad_cache`) runs every sequence twice: once
without a graph for the embeddings, once with one to back-propagate. When only the LoRA
weights of the last ``n`` decoder layers train, the layers below compute the same thing in both
passes and need no backward pass at all: :class:`TopLayers` freezes everything below (the
lower layers' LoRA weights and the embed-token row keep their values), keeps the first pass's
hidden state at the input of the first trained layer, and runs the second pass from there
through the trained layers alone. On the default model (30 layers) with ``n = 8`` a step
computes about 1 + 3 × 8/30 forward passes' worth instead of 4.
"""

from __future__ import annotations

import contextlib
import re

import torch

from .config import ConfigError

_LAYER = re.compile(r"\.layers\.(\d+)\.")


def decoder_layers(peft_model) -> tuple[torch.nn.Module, torch.nn.ModuleList]:
    """The decoder stack of a peft-wrapped causal LM and its list of layers."""
    decoder = peft_model.get_base_model().get_decoder()
    layers = getattr(decoder, "layers", None)
    if not isinstance(layers, torch.nn.ModuleList):
        raise ConfigError(f"--train-layers needs a decoder with a 'layers' list; {type(decoder).__name__} has none")
    return decoder, layers


class TopLayers:
    """Trains the last ``n`` decoder layers of ``peft_model`` and reuses the output of the ones
    below between the two passes of a gradient-caching step (see module docstring)."""

    def __init__(self, peft_model, n: int):
        self.decoder, self.layers = decoder_layers(peft_model)
        total = len(self.layers)
        if not 1 <= n <= total:
            raise ConfigError(f"--train-layers must be between 1 and the model's {total} layers, not {n}")
        self.first = total - n  # index of the first trained layer
        self.trained = torch.nn.ModuleList(list(self.layers)[self.first :])
        for name, param in peft_model.named_parameters():
            found = _LAYER.search(name)
            if param.requires_grad and (found is None or int(found.group(1)) < self.first):
                param.requires_grad_(False)
        self.kept: dict[tuple, torch.Tensor] = {}

    def keep(self, key: tuple, hidden_states: tuple[torch.Tensor, ...]) -> None:
        """Keep the input of the first trained layer from a forward pass's ``hidden_states``
        (embeddings first, then each layer's output) for the pass under the same ``key``."""
        self.kept[key] = hidden_states[self.first].detach()

    @contextlib.contextmanager
    def _only_top(self):
        self.decoder.layers = self.trained
        try:
            yield
        finally:
            self.decoder.layers = self.layers

    def forward(self, model, key: tuple, rows: dict, **kwargs):
        """``model``'s output for ``rows`` computed from the kept hidden state of ``key`` through
        the trained layers only (the same numbers as a whole forward pass)."""
        hidden = self.kept.pop(key)
        with self._only_top():
            return model(inputs_embeds=hidden, attention_mask=rows["attention_mask"],
                         position_ids=rows["position_ids"], **kwargs)
