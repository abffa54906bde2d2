"""Loading the base causal LM a configuration names: the embedded default, a local
Hugging Face folder (optionally a GGUF file in it), or a hub id where a hub is reachable."""

from __future__ import annotations

import re
from pathlib import Path

import torch

from searchr3.config import DEFAULT_MODEL, ModelConfig
from searchr3.errors import ModelLoadError, ModelNotFoundError
from searchr3.model.default import load_default_base
from searchr3.model.hf import drop_quantizer, quiet_from_pretrained
from searchr3.model.identity import folder_base_id

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def is_hub_id(name: str) -> bool:
    """``owner/name`` with no path-like prefix: something only a hub could resolve."""
    return bool(_HUB_ID.match(name)) and not name.startswith((".", "/", "~"))


def _load_named(config: ModelConfig, dtype: torch.dtype) -> tuple[torch.nn.Module, object, str]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    name = config.model
    path = Path(name).expanduser()
    kwargs = {"gguf_file": config.gguf_file} if config.gguf_file else {}
    if path.exists():
        if config.gguf_file and not (path / config.gguf_file).is_file():
            raise ModelNotFoundError(f"no GGUF file {config.gguf_file!r} in {path}")
        source: str | Path = path
        base_id = folder_base_id(path)
    elif not is_hub_id(name):
        raise ModelNotFoundError(f"model not found: {name!r} is neither a directory nor a hub id")
    else:
        source, base_id = name, name
    try:
        tokenizer = quiet_from_pretrained(AutoTokenizer, source, **kwargs)
        model = quiet_from_pretrained(AutoModelForCausalLM, source, dtype=dtype, **kwargs)
    except OSError as exc:
        raise ModelNotFoundError(f"model not found: {name!r} ({str(exc).splitlines()[0]})") from exc
    except Exception as exc:  # noqa: BLE001 (corrupt weights raise the reader's own errors, e.g. SafetensorError)
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ModelLoadError(f"could not load model {name!r}: {first}") from exc
    if config.gguf_file:
        drop_quantizer(model)
    return model, tokenizer, base_id


def load_base(config: ModelConfig, dtype: torch.dtype) -> tuple[torch.nn.Module, object, str]:
    """``(model, tokenizer, base id)`` of the base model ``config.model`` names.

    Raises:
        ModelNotFoundError: no such folder, file, package or hub id.
        ModelLoadError: it exists but transformers cannot load it.
    """
    if config.model == DEFAULT_MODEL:
        return load_default_base(dtype)
    return _load_named(config, dtype)
