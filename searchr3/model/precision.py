"""Numeric precision of inference weights and activations: float32 or bfloat16.

bfloat16 halves the bytes every forward pass reads and, on CPUs with native bf16 arithmetic
(AVX512-BF16 or AMX, through oneDNN), runs the matrix products about twice as fast as float32;
on a GPU it is the norm. Its vectors agree with float32 ones to a cosine of ~0.9997 (see
``bench/embed.py``), so both precisions share one vector space and one fingerprint.

Dynamic int8 quantization was measured and rejected: per-tensor activation scales cannot hold
the outlier channels of a decoder LM (cosine to float32 0.68, and a text's vector changed
with its batch mates). Weight-only int8 (activations in bfloat16, :func:`quantize_int8`) does
not have that problem and decodes one token at a time faster, so generated text comes from
int8 weights (``ModelConfig.decode_precision``): one sequence through
:class:`~searchr3.model.fast_decode.Int8Decoder` (by default its int8 drafts are checked by float32
weights, so the text is float32's), batches through an int8 copy of the model
(:func:`int8_decoder`); vectors always come from the model at its precision.
"""

from __future__ import annotations

import torch

from searchr3.config import DECODE_PRECISIONS, PRECISIONS
from searchr3.errors import InvalidInputError

_ALIASES = {"fp32": "float32", "bf16": "bfloat16", "auto": None}


def cpu_has_fast_bf16() -> bool:
    """Whether this CPU multiplies bfloat16 natively (otherwise bf16 is emulated and slow)."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def resolve_precision(requested: str | None, device: torch.device) -> str:
    """The precision to run at: ``requested`` (``fp32``/``bf16``/``auto`` accepted), or for
    ``None``/``auto`` bfloat16 on CUDA and on CPUs with native bf16, else float32.

    Raises:
        InvalidInputError: an unknown name.
    """
    key = None if requested is None else requested.strip().lower()
    name = _ALIASES.get(key, key)
    if name is None:
        fast = device.type == "cuda" or (device.type == "cpu" and cpu_has_fast_bf16())
        return "bfloat16" if fast else "float32"
    if name not in PRECISIONS:
        raise InvalidInputError(f"precision must be auto, {' or '.join(PRECISIONS)}, not {requested!r}")
    return name


def torch_dtype(precision: str) -> torch.dtype:
    """The torch dtype of a precision name."""
    return torch.bfloat16 if precision == "bfloat16" else torch.float32




def quantize_int8(weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """A ``[N, K]`` weight as int8 values with one bfloat16 scale per output row (symmetric,
    the row's largest magnitude maps to 127): the operands of ``torch._weight_int8pack_mm``."""
    weight = weight.float()
    scale = weight.abs().amax(dim=1).clamp(min=1e-12) / 127.0
    values = torch.round(weight / scale[:, None]).clamp(-127, 127).to(torch.int8).contiguous()
    return values, scale.to(torch.bfloat16)


class Int8WeightLinear(torch.nn.Module):
    """A Linear layer whose weight is int8 with one scale per output channel; activations stay
    bfloat16. Decoding one token is a matrix-vector product bound by reading the weights, and
    this halves the bytes of bfloat16 (no activation quantization, so no outlier problem)."""

    def __init__(self, linear: torch.nn.Linear):
        super().__init__()
        weight, scale = quantize_int8(linear.weight.detach())
        self.register_buffer("weight_int8", weight)
        self.register_buffer("scale", scale)
        self.bias = None if linear.bias is None else torch.nn.Parameter(linear.bias.detach().to(torch.bfloat16))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.reshape(-1, x.shape[-1]).to(torch.bfloat16).contiguous()
        out = torch._weight_int8pack_mm(flat, self.weight_int8, self.scale)
        if self.bias is not None:
            out = out + self.bias
        return out.reshape(*x.shape[:-1], -1)


def resolve_decode_precision(requested: str | None, precision: str, device: torch.device) -> str:
    """``same`` (generate with the embedding weights), ``int8`` (int8 weights: ~3x faster at
    batch 1 on the CPU; rounding changes a greedy choice now and then) or ``checked`` (one
    sequence: int8 drafts that float32 checks, so float32's own greedy text; batches: int8).
    ``None``/``auto``: checked when the model runs in bfloat16 on the CPU, else same.

    Raises:
        InvalidInputError: an unknown name, or int8/checked where it cannot run (not CPU + bfloat16).
    """
    key = "auto" if requested is None else requested.strip().lower()
    fits = device.type == "cpu" and precision == "bfloat16"
    if key == "auto":
        return "checked" if fits else "same"
    if key not in DECODE_PRECISIONS:
        raise InvalidInputError(f"decode precision must be auto, {', '.join(DECODE_PRECISIONS)}, not {requested!r}")
    if key != "same" and not fits:
        raise InvalidInputError(f"{key} decoding needs bfloat16 on the CPU, not {precision} on {device.type}")
    return key


def int8_decoder(model: torch.nn.Module) -> torch.nn.Module:
    """A copy of a bfloat16 ``model`` for generating traces, every Linear (the LM head included, untied
    from the embeddings) with int8 weights. The embedding model itself is left as it is."""
    import copy

    decoder = copy.deepcopy(model)
    head = decoder.get_output_embeddings()
    if head is not None and head.weight is decoder.get_input_embeddings().weight:
        head.weight = torch.nn.Parameter(head.weight.detach().clone(), requires_grad=False)
    targets = [(name, m) for name, m in decoder.named_modules() if isinstance(m, torch.nn.Linear)]
    for name, linear in targets:
        parent_name, _, child = name.rpartition(".")
        setattr(decoder.get_submodule(parent_name) if parent_name else decoder, child, Int8WeightLinear(linear))
    decoder.eval()
    return decoder
