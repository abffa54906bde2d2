"""Query-side training (a query adapter against the shipped adapter's frozen bank), real model, tiny settings."""

import json
import math
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch

from searchr3 import Embedder, ModelConfig
from searchr3.config import BUNDLED_ADAPTERS
from training.config import ConfigError, QueryConfig
from training.losses import bank_info_nce
from training.pairs import Pair
from training.query_bank import BankRows, embed_bank, near_positives
from training.query_trainer import QueryTrainer, draw_pairs

PAIRS = [
    Pair("reverse a list in place", "list.reverse() reverses the items of the list in place."),
    Pair("open a file for reading", "open(file, 'r') returns a file object opened for reading text."),
    Pair("current time in seconds", "time.time() returns the time in seconds since the epoch as a float."),
    Pair("split a string on whitespace", "str.split() with no argument splits on runs of whitespace."),
    Pair("Liste umkehren", "list.reverse() reverses the items of the list in place."),  # the same positive
    Pair("delete a file", "os.remove(path) deletes the file at path."),
]


def tiny(**changes) -> QueryConfig:
    base = dict(steps=3, batch_size=4, lr=1e-3, warmup=1, max_query_tokens=16, max_document_tokens=24,
                save_every=2, seed=3, mixed_precision="no")
    base.update(changes)
    return QueryConfig(**base)


def test_bank_infonce_by_hand():
    bank = torch.eye(3)
    queries = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    loss, first = bank_info_nce(queries, bank, torch.tensor([0, 1]), 1.0)
    # each query: logit 1 for its positive, 0 for the two others
    assert loss.item() == pytest.approx(-math.log(math.e / (math.e + 2))) and first.tolist() == [True, True]
    # query 0's positive is now row 2, and row 0 (its near-copy) is left out: two equal logits remain
    loss, first = bank_info_nce(queries, bank, torch.tensor([2, 1]), 1.0, [torch.tensor([0]), torch.tensor([])])
    per_query = [math.log(2), -math.log(math.e / (math.e + 2))]
    assert loss.item() == pytest.approx(sum(per_query) / 2) and first.tolist() == [False, True]


def test_bank_rows_hold_each_positive_once_and_near_positives_never_the_label():
    rows = BankRows.of(PAIRS)
    assert len(rows.texts) == 5 and rows.labels == [0, 1, 2, 3, 0, 4]
    assert rows.key("model a") != rows.key("model b") and rows.key("x") == BankRows.of(PAIRS).key("x")
    teacher_q = torch.nn.functional.normalize(torch.tensor([[1.0, 0.0], [0.0, 1.0]]), dim=-1)
    teacher_bank = torch.nn.functional.normalize(torch.tensor([[1.0, 0.0], [0.99, 0.1], [0.0, 1.0], [0.7, 0.7]]),
                                                 dim=-1)
    near = near_positives(teacher_q, teacher_bank, [0, 2], margin=0.05)
    assert [n.tolist() for n in near] == [[1], []]  # row 1 is within 0.05 of query 0's positive; row 3 is not
    assert [n.tolist() for n in near_positives(teacher_q, teacher_bank, [0, 2], margin=0.4)] == [[1, 3], [3]]


def test_the_bank_is_saved_in_parts_and_read_back(tmp_path, monkeypatch):
    monkeypatch.setattr("training.query_bank.PART_SIZE", 2)
    calls = []

    def embed(texts):
        calls.append(len(texts))
        return torch.arange(len(texts) * 3, dtype=torch.float32).reshape(len(texts), 3) + len(calls)

    texts = [f"passage {i}" for i in range(5)]
    first = embed_bank(embed, texts, tmp_path, "k1")
    assert calls == [2, 2, 1] and first.shape == (5, 3)
    (tmp_path / "part-00002.pt").unlink()  # an interrupted run: the last part is missing
    again = embed_bank(embed, texts, tmp_path, "k1")
    assert calls == [2, 2, 1, 1] and torch.equal(again[:4], first[:4])
    embed_bank(embed, texts, tmp_path, "k2")  # another model or text: everything is embedded anew
    assert calls[4:] == [2, 2, 1]


def test_draw_pairs_and_config_rules():
    assert draw_pairs(PAIRS, 0, 1) == PAIRS and draw_pairs(PAIRS, 99, 1) == PAIRS
    drawn = draw_pairs(PAIRS, 3, 1)
    assert len(drawn) == 3 and drawn == draw_pairs(PAIRS, 3, 1) and all(p in PAIRS for p in drawn)
    with pytest.raises(ConfigError, match="--filter-margin must be at least 0, not -0.1"):
        tiny(filter_margin=-0.1)


@pytest.mark.model
def test_documents_stay_frozen_queries_learn_and_the_adapter_serves_as_query_adapter(tmp_path):
    trainer = QueryTrainer(tiny(steps=6, batch_size=6), PAIRS, tmp_path / "run")
    assert trainer.documents == BUNDLED_ADAPTERS / "sft"
    trainer.prepare()
    shipped = Embedder.load(ModelConfig(query_adapter=None, max_document_tokens=24, precision="float32"))
    texts = BankRows.of(PAIRS).texts
    np.testing.assert_allclose(trainer.bank.numpy(), shipped.embed_documents(texts), atol=1e-5)  # the shipped vectors
    rows = [trainer.train_step() for _ in range(6)]  # the batch is all 6 pairs, every step
    assert rows[-1]["loss"] < 0.7 * rows[0]["loss"], [round(r["loss"], 3) for r in rows]
    adapter = trainer.export()
    paired = Embedder.load(ModelConfig(query_adapter=str(adapter), max_query_tokens=16, max_document_tokens=24,
                                       precision="float32"))
    assert paired.fingerprint == shipped.fingerprint  # an index built with the documents adapter stays valid
    queries = paired.embed_queries([p.query for p in PAIRS])
    assert (queries @ trainer.bank.numpy().T).argmax(1).tolist() == BankRows.of(PAIRS).labels


@pytest.mark.model
def test_filter_resume_and_cli(tmp_path):
    data = tmp_path / "pairs.jsonl"
    data.write_text("\n".join(json.dumps({"query": p.query, "positive": p.positive}) for p in PAIRS))
    run = tmp_path / "run"

    def train(*extra):
        args = ["--data", str(data), "--out", str(run), "--batch-size", "4", "--max-query-tokens", "16",
                "--max-document-tokens", "24", "--save-every", "1", "--filter-margin", "0.2", "--w-distill", "0.5",
                *extra]
        return subprocess.run([sys.executable, "-m", "training.query", *args], capture_output=True, text=True,
                              timeout=900)

    out = train("--steps", "2")
    assert out.returncode == 0, out.stderr
    summary = json.loads((run / "summary.json").read_text())
    assert (summary["steps"], summary["bank"], summary["pairs"]) == (2, 5, 6)
    assert 0 < summary["excluded_share"] < 1  # MiniLM finds some passages as close as a query's positive
    for name in ("adapter/adapter_model.safetensors", "adapter/searchr3_adapter.json", "loss.png",
                 "bank/part-00000.pt", "bank/key.txt", "teacher/passages/part-00000.pt", "teacher/queries/key.txt"):
        assert (run / name).is_file(), name
    saved = ("bank/part-00000.pt", "teacher/passages/part-00000.pt", "teacher/queries/part-00000.pt")
    stamps = [(run / name).stat().st_mtime_ns for name in saved]
    shutil.rmtree(run / "checkpoints" / "step-000002")  # as if interrupted during step 2
    out = train("--steps", "2", "--resume")
    assert out.returncode == 0, out.stderr
    assert "resumed at step 1" in out.stderr
    # the bank and the teacher's vectors were read back, not embedded again
    assert [(run / name).stat().st_mtime_ns for name in saved] == stamps
    log = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [1, 2, 2] and all(0 <= r["top1"] <= 1 for r in log)
    assert all(r["distill"] > 0 and r["loss"] == pytest.approx(r["nce"] + 0.5 * r["distill"]) for r in log)
    assert log[2]["loss"] == pytest.approx(log[1]["loss"], abs=1e-4)  # the same step again, from the checkpoint
    bad = subprocess.run([sys.executable, "-m", "training.query", "--data", str(data), "--out", str(tmp_path / "x"),
                          "--documents", str(tmp_path / "none")], capture_output=True, text=True, timeout=300)
    missing = tmp_path / "none"
    assert bad.returncode == 2
    expected = f"error: --documents '{missing}': adapter not found: {missing} has no adapter_config.json"
    assert bad.stderr.strip() == expected
