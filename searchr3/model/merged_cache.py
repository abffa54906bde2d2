"""The default model with an adapter merged in, kept on disk.

Merging a LoRA adapter into the weights takes seconds on a CPU (peft's import and 210 float32
products for the shipped adapter: ~6 s of a ~15 s start under load), and every command that loads
the default model with an adapter did it again. The first merge is saved as float32 safetensors
under :func:`~searchr3.config.cache_dir`, keyed by the base GGUF and the adapter's content hash
(written to a temporary folder and renamed into place); later loads read it back bit for bit, so
vectors, and the index fingerprint, are those of a fresh merge.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import torch

from searchr3.config import cache_dir
from searchr3.model.adapter import adapter_identity
from searchr3.model.default import DEFAULT_NAME, default_cache_key
from searchr3.model.embed_token import embed_token_id
from searchr3.model.hf import quiet_from_pretrained, save_folder

_META = "searchr3_merged.json"

Merged = tuple[torch.nn.Module, object, int, str, str]  # model, tokenizer, embed token id, base id, adapter id


def merged_default(adapter_dir: Path, merge: Callable[[], Merged]) -> Merged:
    """The default base with ``adapter_dir`` merged in (float32): from the cache when it holds
    this merge, else ``merge()``'s result, saved for the next load."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = cache_dir() / "merged" / f"{DEFAULT_NAME}-{default_cache_key()}-{adapter_identity(adapter_dir)}"
    if (folder / _META).is_file():
        meta = json.loads((folder / _META).read_text())
        model = quiet_from_pretrained(AutoModelForCausalLM, folder, dtype=torch.float32)
        tokenizer = quiet_from_pretrained(AutoTokenizer, folder)
        return model, tokenizer, embed_token_id(tokenizer), meta["base_id"], meta["adapter_id"]
    model, tokenizer, embed_id, base_id, adapter_id = merge()
    save_folder(model, tokenizer, _META, {"base_id": base_id, "adapter_id": adapter_id}, folder)
    return model, tokenizer, embed_id, base_id, adapter_id
