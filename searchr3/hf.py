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
