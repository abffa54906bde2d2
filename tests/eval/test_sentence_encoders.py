"""The shipped sentence encoders: all-mpnet-base-v2 joined from its five wheels, and the split-zip join."""

import zipfile

import numpy as np
import pytest

from searchr3.errors import ModelNotFoundError
from searchr3.eval.sentence_encoders import (
    MPNET_PARTS,
    encoder_path,
    join_split_zip,
    load_sentence_encoder,
    mpnet_path,
)


def _split_zip(folder, pieces: int = 3):
    """A real zip of a folder (and a stray desktop.ini), cut into ``pieces`` files; its SHA-256."""
    import hashlib

    archive = folder / "m.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("model/config.json", '{"a": 1}')
        z.writestr("model/weights.bin", bytes(range(256)) * 400)
        z.writestr("model/desktop.ini", "x")
        z.writestr("other/readme.txt", "not this folder")
    data = archive.read_bytes()
    cut = len(data) // pieces + 1
    parts = []
    for i in range(pieces):
        part = folder / f"m.zip.{i + 1:03d}"
        part.write_bytes(data[i * cut : (i + 1) * cut])
        parts.append(part)
    return parts, hashlib.sha256(data).hexdigest()


def test_join_split_zip_unpacks_the_folder_once_and_refuses_a_damaged_part(tmp_path):
    parts, sha = _split_zip(tmp_path)
    dest = tmp_path / "cache"
    folder = join_split_zip(parts, sha, "model", dest)
    assert folder == dest / "model"
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "weights.bin"]  # no desktop.ini
    assert (folder / "weights.bin").read_bytes() == bytes(range(256)) * 400
    assert not (dest / "other").exists() and [p.name for p in dest.iterdir() if p.name.startswith(".")] == []
    # a finished unpack is returned without reading the parts again
    for p in parts:
        p.unlink()
    assert join_split_zip(parts, sha, "model", dest) == folder
    # a damaged part: one clear error, nothing written in a fresh place
    (tmp_path / "damaged").mkdir()
    parts, sha = _split_zip(tmp_path / "damaged")
    parts[1].write_bytes(parts[1].read_bytes()[:-1] + b"\0")
    fresh = tmp_path / "fresh"
    with pytest.raises(ModelNotFoundError, match=r"m\.zip\.001, m\.zip\.002, m\.zip\.003 do not join"):
        join_split_zip(parts, sha, "model", fresh)
    assert list(fresh.iterdir()) == []
    # parts given out of order fail the same way
    (tmp_path / "shuffled").mkdir()
    parts, sha = _split_zip(tmp_path / "shuffled")
    with pytest.raises(ModelNotFoundError, match="SHA-256 differs"):
        join_split_zip(parts[::-1], sha, "model", fresh)


def test_unknown_encoder_names_fail_in_one_line(tmp_path):
    with pytest.raises(ModelNotFoundError, match=r"no such folder: .*nowhere \(or name one of minilm, mpnet\)"):
        encoder_path(str(tmp_path / "nowhere"))


@pytest.mark.model
def test_mpnet_joins_from_its_wheels_and_ranks_like_a_sentence_encoder():
    assert len(MPNET_PARTS) == 5
    folder = mpnet_path()
    assert (folder / "model.safetensors").stat().st_size == 437_971_872
    assert mpnet_path() == folder  # the second call finds the unpacked folder
    passages = [
        "Use sorted() with a key function to order a list of dictionaries by one of their values.",
        "The open() function returns a file object; the mode argument says whether to read or write.",
        "A set removes repeated elements: list(dict.fromkeys(items)) keeps the first of each in order.",
    ]
    questions = ["How do I drop duplicates from a list but keep the order?", "How can I write text to a file?"]
    for name, dim in (("mpnet", 768), ("minilm", 384)):
        model = load_sentence_encoder(name)
        docs = model.encode(passages, normalize_embeddings=True)
        queries = model.encode(questions, normalize_embeddings=True)
        assert docs.shape == (3, dim) and np.allclose(np.linalg.norm(docs, axis=1), 1, atol=1e-5)
        assert (queries @ docs.T).argmax(axis=1).tolist() == [2, 1], name
