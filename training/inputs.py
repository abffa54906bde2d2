"""What a trainer starts from, named on its command line: a trained adapter (``--init``,
``--documents``) and a teacher encoder (``--teacher``) with the vectors it gives. Both fail as a one-line
:class:`~training.config.ConfigError` that names the option."""

from __future__ import annotations

from pathlib import Path

import torch

from searchr3.config import ModelConfig
from searchr3.errors import ModelNotFoundError
from searchr3.model.adapter import check_adapter

from .config import ConfigError


def adapter_option(model: str, option: str, name: str | None, why: str = "") -> Path:
    """The adapter folder that ``name`` (``"default"``, a path, ...) names for ``model``.

    Raises:
        ConfigError: ``name`` names no adapter for ``model`` (``why`` is appended, e.g. what
            the stage needs it for), or the folder holds no adapter.
    """
    path = ModelConfig(model=model, adapter=name).adapter_path() if name else None
    if path is None:
        raise ConfigError(f"{option} {name!r} names no adapter for {model}{'; ' + why if why else ''}")
    try:
        check_adapter(path)
    except ModelNotFoundError as e:
        raise ConfigError(f"{option} {name!r}: {e}") from None
    return path


def load_teacher(name: str):
    """The teacher encoder on the CPU: ``'minilm'`` (all-MiniLM-L6-v2), ``'mpnet'``
    (all-mpnet-base-v2, the ``teacher`` extra) or a sentence-transformers folder
    (:mod:`searchr3.eval.sentence_encoders`)."""
    from searchr3.eval.sentence_encoders import load_sentence_encoder

    try:
        return load_sentence_encoder(name)
    except ModelNotFoundError as e:
        raise ConfigError(f"--teacher {name!r}: {e}") from None


def teacher_vectors(teacher, texts: list[str]) -> torch.Tensor:
    """The teacher's unit vectors ``[len(texts), H']`` of ``texts``, on the CPU."""
    return teacher.encode(texts, normalize_embeddings=True, convert_to_tensor=True, show_progress_bar=False,
                          batch_size=64).cpu()
