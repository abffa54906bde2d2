"""LoRA adapters saved by searchr3: applying one to a base, saving one, and their identity.

Beside the peft files, an adapter folder holds :data:`ADAPTER_META`, naming the base model it
was trained on; applying it to another base raises :class:`AdapterMismatchError`.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from pathlib import Path

from searchr3.errors import AdapterMismatchError, ModelNotFoundError
from searchr3.hashing import sha256_file
from searchr3.model.prompts import PROMPT_VERSION

#: File written beside a peft adapter by searchr3, naming the base it was trained on.
ADAPTER_META = "searchr3_adapter.json"
_WEIGHTS = ("adapter_config.json", "adapter_model.safetensors", "adapter_model.bin")


def adapter_identity(adapter_dir: Path) -> str:
    """Short content hash of an adapter's weights and config."""
    h = hashlib.sha256()
    for name in _WEIGHTS:
        p = adapter_dir / name
        if p.is_file():
            h.update(name.encode())
            h.update(sha256_file(p).encode())
    return h.hexdigest()[:12]


def write_adapter_meta(adapter_dir: Path, base_id: str) -> None:
    """Record which base model an adapter was trained on (checked when it is applied)."""
    (Path(adapter_dir) / ADAPTER_META).write_text(
        json.dumps({"base_id": base_id, "prompt_version": PROMPT_VERSION}, indent=2)
    )


def check_adapter(adapter_dir: Path, base_id: str | None = None) -> None:
    """Raise unless ``adapter_dir`` holds an adapter (for ``base_id``, when given and recorded).

    Raises:
        ModelNotFoundError: ``adapter_dir`` holds no adapter.
        AdapterMismatchError: its recorded base is another one.
    """
    if not (adapter_dir / "adapter_config.json").is_file():
        raise ModelNotFoundError(f"adapter not found: {adapter_dir} has no adapter_config.json")
    meta_path = adapter_dir / ADAPTER_META
    if base_id is not None and meta_path.is_file():
        trained_on = json.loads(meta_path.read_text()).get("base_id")
        if trained_on and trained_on != base_id:
            raise AdapterMismatchError(
                f"adapter {adapter_dir} was trained on base {trained_on}, but the loaded base is {base_id}"
            )


def apply_adapter(model, adapter_dir: Path, base_id: str):
    """``(peft model, adapter identity)``: ``model`` wrapped with the adapter, for inference.

    Raises:
        ModelNotFoundError: ``adapter_dir`` holds no adapter.
        AdapterMismatchError: it was trained on another base, or its shapes do not fit.
    """
    from peft import PeftModel

    check_adapter(adapter_dir, base_id)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            wrapped = PeftModel.from_pretrained(model, adapter_dir, is_trainable=False)
    except (RuntimeError, ValueError, KeyError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise AdapterMismatchError(f"adapter {adapter_dir} does not fit base {base_id}: {first}") from exc
    return wrapped, adapter_identity(adapter_dir)


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
