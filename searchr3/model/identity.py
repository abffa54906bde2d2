"""The identity of the vectors a model produces (its fingerprint), and telling it from a
configuration without loading any weights."""

from __future__ import annotations

from pathlib import Path

from searchr3.config import DEFAULT_MODEL, ModelConfig
from searchr3.hashing import short_hash
from searchr3.model.adapter import adapter_identity
from searchr3.model.prompts import PROMPT_VERSION

_WEIGHT_FILES = {".json", ".safetensors", ".bin", ".gguf"}


def fingerprint_of(base_id: str, adapter_id: str | None) -> str:
    """``<base id>|adapter=<adapter id or none>|prompts=v<N>``: what an index stores, so that
    vectors of different models never mix."""
    return f"{base_id}|adapter={adapter_id or 'none'}|prompts=v{PROMPT_VERSION}"


def folder_base_id(path: Path) -> str:
    """``<folder name>@<hash of its weight files' names and sizes and its config.json>``."""
    files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix in _WEIGHT_FILES)
    config = path / "config.json"
    listing = "".join(f"{p.name}:{p.stat().st_size};" for p in files).encode()
    return f"{path.resolve().name}@{short_hash(listing + (config.read_bytes() if config.is_file() else b''))}"


def expected_fingerprint(config: ModelConfig) -> str | None:
    """The fingerprint the (document) model ``config`` names would have, told from its files
    alone; ``None`` when that cannot be told without loading it (a missing folder or adapter)."""
    if config.model == DEFAULT_MODEL:
        from searchr3.errors import ModelNotFoundError
        from searchr3.model.default import default_base_id

        try:
            base_id = default_base_id()
        except ModelNotFoundError:
            return None
    else:
        path = Path(config.model).expanduser()
        if not path.is_dir():
            return None
        base_id = folder_base_id(path)
    adapter = config.adapter_path()
    if adapter is not None and not (adapter / "adapter_config.json").is_file():
        return None
    return fingerprint_of(base_id, adapter_identity(adapter) if adapter is not None else None)
