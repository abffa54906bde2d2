"""Small helpers around transformers' loading: quiet ``from_pretrained`` and GGUF clean-up."""

from __future__ import annotations

import warnings


def quiet_from_pretrained(cls, *args, **kwargs):
    """``cls.from_pretrained(...)`` without transformers' warnings and progress bars."""
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


def drop_quantizer(model) -> None:
    """Forget that a model was de-quantized from GGUF (it then saves as plain safetensors;
    a model that still carries its quantizer refuses ``save_pretrained``)."""
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config


def quiet_save(model, folder) -> None:
    """``model.save_pretrained(folder)`` without transformers' progress bars."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    try:
        model.save_pretrained(folder)
    finally:
        hf_logging.enable_progress_bar()


def save_folder(model, tokenizer, meta_name: str, meta: dict, folder) -> None:
    """Save ``model``, ``tokenizer`` and a JSON ``meta`` file as the folder ``folder``, all or
    nothing: written to a temporary folder beside it, then renamed into place (when another
    process got there first, theirs is kept). A cache that holds ``meta_name`` is complete."""
    import json
    import os
    import shutil
    import tempfile
    from pathlib import Path

    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=folder.name + ".", dir=folder.parent))
    try:
        quiet_save(model, tmp)
        tokenizer.save_pretrained(tmp)
        (tmp / meta_name).write_text(json.dumps(meta))
        try:
            os.replace(tmp, folder)
        except OSError:  # another process finished first: keep theirs
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
