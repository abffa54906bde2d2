"""Numeric precision of inference weights and activations: float32 or bfloat16.

bfloat16 halves the bytes every forward pass reads and, on CPUs with native bf16 arithmetic
(AVX512-BF16 or AMX, through oneDNN), runs the matrix products about twice as fast as float32;
on a GPU it is the norm. Its vectors agree with float32 ones to a cosine of ~0.9997 (see
``bench/embed.py``), so both precisions share one vector space and one fingerprint.

Dynamic int8 quantization was measured and rejected: per-tensor activation scales cannot hold
the outlier channels of a decoder LM (cosine to float32 0.68, and a text's vector changed
with its batch mates).
"""

from __future__ import annotations

import torch

from .errors import InvalidInputError

#: Accepted precision names.
PRECISIONS = ("float32", "bfloat16")
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
