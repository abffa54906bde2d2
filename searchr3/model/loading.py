"""A ready Search-R3 model: base LM, ``<|embed_token|>``, optional LoRA adapter, identity.

The pieces live in their own modules: :mod:`~searchr3.model.base` (which base, from where),
:mod:`~searchr3.model.default` (the embedded default and its cache),
:mod:`~searchr3.model.embed_token` and :mod:`~searchr3.model.adapter`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

import torch

from searchr3.config import DEFAULT_MODEL, ModelConfig
from searchr3.model import fast_decode
from searchr3.model.adapter import apply_adapter
from searchr3.model.base import load_base
from searchr3.model.embed_token import add_embed_token, embed_token_id
from searchr3.model.identity import fingerprint_of
from searchr3.model.merged_cache import merged_default
from searchr3.model.precision import int8_decoder, resolve_decode_precision, resolve_precision, torch_dtype
from searchr3.model.threads import pin_threads

#: int8 tokens drafted ahead of each float32 check (``decode_precision="checked"``).
CHECKED_DRAFT = 6


@dataclass
class LoadedModel:
    """A ready model: the LM (adapter merged, or peft-wrapped while training), its tokenizer,
    identity and the precision it runs at."""

    model: torch.nn.Module
    tokenizer: object
    embed_token_id: int
    base_id: str
    adapter_id: str | None
    device: torch.device
    precision: str = "float32"
    decode_precision: str = "same"  # "int8"/"checked": traces come from weight-only int8 copies
    frozen: bool = False  # weights never change (loaded for inference): derived states may be kept
    # the same weights in float32, loaded again (for decode_precision="checked")
    float32_weights: Callable[[], torch.nn.Module] | None = field(default=None, repr=False)
    _decoder: torch.nn.Module | None = field(default=None, init=False, repr=False)
    _one_sequence: fast_decode.Int8Decoder | None = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    @property
    def generation_model(self) -> torch.nn.Module:
        """The model that generates traces in batches: the model itself, or for
        ``decode_precision="int8"``/``"checked"`` its int8 copy, built on first use (~1 s; runs
        that never reason never pay it)."""
        if self.decode_precision == "same":
            return self.model
        with self._lock:
            if self._decoder is None:
                self._decoder = int8_decoder(self.model)
        return self._decoder

    @property
    def sequence_decoder(self) -> fast_decode.Int8Decoder | None:
        """The decoder for one sequence at a time (a user's query, a chat answer), built on first
        use: for ``decode_precision="int8"`` over this model's weights, for ``"checked"`` over
        the float32 weights (int8 drafts checked by float32: float32's greedy text); None where
        decoding is ``"same"`` or the model is not one it runs (Llama family on the CPU).
        ``generate`` on :attr:`generation_model` does it then."""
        if self.decode_precision == "same" or not fast_decode.supports(self.model):
            return None
        with self._lock:
            if self._one_sequence is None:
                if self.decode_precision == "checked" and self.float32_weights is not None:
                    self._one_sequence = fast_decode.Int8Decoder(self.float32_weights(), draft=CHECKED_DRAFT)
                else:
                    self._one_sequence = fast_decode.Int8Decoder(self.model)
        return self._one_sequence

    @property
    def fingerprint(self) -> str:
        """Identity of the vectors this model produces: base, adapter and prompt version.

        An index stores it; vectors from models with different fingerprints never mix.
        """
        return fingerprint_of(self.base_id, self.adapter_id)

    @classmethod
    def from_model(cls, model: torch.nn.Module, tokenizer, base_id: str, adapter_id: str | None) -> LoadedModel:
        """Wrap a model already in memory (e.g. a policy being trained) whose tokenizer holds
        ``<|embed_token|>``; the device is that of its parameters. ``base_id`` and
        ``adapter_id`` make up its fingerprint: name the weights honestly."""
        param = next(model.parameters())
        precision = "bfloat16" if param.dtype == torch.bfloat16 else "float32"
        return cls(model, tokenizer, embed_token_id(tokenizer), base_id, adapter_id, param.device, precision)


def pick_device(requested: str | None) -> torch.device:
    """The configured device, or CUDA when available, else CPU."""
    if requested:
        return torch.device(requested)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def load_model(config: ModelConfig | None = None) -> LoadedModel:
    """Load base model, tokenizer, embed token and (optionally) a LoRA adapter, for inference.

    The adapter is merged into the weights (inference runs ~3x faster than through peft's
    extra LoRA products); to train, load the bare model (``adapter=None``) and wrap it.

    Raises:
        ModelNotFoundError: the model, its package or the adapter is not there.
        ModelLoadError: the model exists but cannot be loaded.
        AdapterMismatchError: the adapter belongs to another base model.
    """
    config = config or ModelConfig()
    device = pick_device(config.device)
    if config.threads:
        pin_threads(config.threads)
    precision = resolve_precision(config.precision, device)
    decode = resolve_decode_precision(config.decode_precision, precision, device)
    model, tokenizer, embed_id, base_id, adapter_id = _merged(config, precision, device)
    again = partial(_float32_weights, config, device) if decode == "checked" else None
    return LoadedModel(model, tokenizer, embed_id, base_id, adapter_id, device, precision, decode, frozen=True,
                       float32_weights=again)


def _merged(config: ModelConfig, precision: str, device: torch.device):
    """The base model with the embed token and the adapter merged in, at ``precision`` for
    inference, with its tokenizer, embed token id, base id and adapter id."""
    adapter_dir = config.adapter_path()
    if adapter_dir is not None and config.model == DEFAULT_MODEL:  # merged once, then read from the cache
        model, tokenizer, embed_id, base_id, adapter_id = merged_default(adapter_dir, partial(_merge, config))
    elif adapter_dir is not None:
        model, tokenizer, embed_id, base_id, adapter_id = _merge(config)
    else:
        model, tokenizer, base_id = load_base(config, torch_dtype(precision))
        embed_id, adapter_id = add_embed_token(model, tokenizer), None
    model.to(device=device, dtype=torch_dtype(precision))
    model.eval()
    return model, tokenizer, embed_id, base_id, adapter_id


def _merge(config: ModelConfig):
    """The base in float32 with the embed token and ``config``'s adapter merged in (the sum is
    cast to the run's precision afterwards): model, tokenizer, embed token id, base id, adapter id."""
    model, tokenizer, base_id = load_base(config, torch.float32)
    embed_id = add_embed_token(model, tokenizer)
    model, adapter_id = apply_adapter(model, config.adapter_path(), base_id)
    return model.merge_and_unload(), tokenizer, embed_id, base_id, adapter_id


def _float32_weights(config: ModelConfig, device: torch.device) -> torch.nn.Module:
    return _merged(config, "float32", device)[0]
