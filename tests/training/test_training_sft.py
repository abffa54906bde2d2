"""Stage 1 (contrastive SFT) on the tiny stand-in model (tests/tiny_model.py), with small settings."""

import json
import math
import subprocess
import sys

import numpy as np
import pytest
import torch

from searchr3 import Embedder, ModelConfig, SearchR3Retriever
from tests.tiny_model import HIDDEN, LAYERS, tiny_model_dir
from training.config import ConfigError, SFTConfig
from training.losses import info_nce, kl_to_base, lm_loss, score_distillation, teacher_agrees, triplet
from training.pairs import Pair, batch_indices, load_pairs
from training.seqs import Seqs
from training.sft_trainer import DOCUMENTS, QUERIES, SFTTrainer

PAIRS = [
    Pair(
        "reverse a list in place",
        "list.reverse() reverses the items of the list in place.",
        ("dict.clear() removes all items from the dictionary.",),
    ),
    Pair(
        "open a file for reading",
        "open(file, 'r') returns a file object opened for reading text.",
        ("os.remove(path) deletes the file at path.",),
    ),
    Pair(
        "current time in seconds",
        "time.time() returns the time in seconds since the epoch as a float.",
        ("math.sqrt(x) returns the square root of x.",),
    ),
    Pair(
        "split a string on whitespace",
        "str.split() with no argument splits on runs of whitespace.",
        ("str.upper() returns an upper-cased copy.",),
    ),
]


def small(**changes) -> SFTConfig:
    base = dict(model=str(tiny_model_dir()), steps=4, batch_size=4, chunk_size=8, negatives=1, lr=1e-3, warmup=1,
                lora_r=4, lora_alpha=8,
                max_query_tokens=16, max_document_tokens=24, save_every=2, seed=3, mixed_precision="no")
    base.update(changes)
    return SFTConfig(**base)


def test_loss_terms_by_hand():
    q = torch.nn.functional.normalize(torch.tensor([[1.0, 0.0], [0.0, 1.0]]), dim=-1)
    aligned = torch.cat([q, -q])  # positives equal the queries; negatives opposite
    shuffled = torch.cat([q.flip(0), -q])
    assert info_nce(q, aligned, 0.05) < 1e-6 < info_nce(q, shuffled, 0.05)
    # uniform similarities: InfoNCE = log(number of candidates)
    same = torch.tensor([[1.0, 0.0], [1.0, 0.0]])
    assert info_nce(same, torch.cat([same, same]), 1.0).item() == pytest.approx(math.log(4))
    assert triplet(q, aligned, margin=0.2).item() == 0.0
    assert triplet(q, shuffled, margin=0.2).item() == pytest.approx(1.2)  # 0.2 - 0 + 1
    logits = torch.randn(2, 3, 7)
    assert kl_to_base(logits, logits).abs().item() < 1e-6 and kl_to_base(logits, logits.flip(-1)).item() > 0
    assert lm_loss(logits, logits.argmax(-1)).item() < lm_loss(logits, logits.argmin(-1)).item()


def test_score_distillation_by_hand():
    q = torch.nn.functional.normalize(torch.tensor([[1.0, 0.0], [0.0, 1.0]]), dim=-1)
    d = torch.cat([q, -q])
    scores = q @ d.T
    assert score_distillation(q, d, scores, 0.05, 0.05).item() == pytest.approx(0.0, abs=1e-6)  # same scores
    # a model indifferent between two passages, a teacher that prefers the first 3:1
    flat = torch.tensor([[1.0, 0.0]])
    teacher = torch.tensor([[math.log(3.0), 0.0]])
    want = 0.75 * math.log(0.75 / 0.5) + 0.25 * math.log(0.25 / 0.5)
    got = score_distillation(flat, torch.tensor([[0.0, 1.0], [0.0, 1.0]]), teacher, 0.05, 1.0)
    assert got.item() == pytest.approx(want, rel=1e-5)


def test_distillation_keeps_only_the_rows_where_the_teacher_agrees_with_the_label():
    # row 0: the teacher ranks its own positive (column 0) first; row 1: it prefers row 0's positive
    teacher = torch.tensor([[0.9, 0.1, 0.2], [0.8, 0.3, 0.1]])
    agree = teacher_agrees(teacher)
    assert agree.tolist() == [True, False]
    flat = torch.zeros(2, 2)
    flat[:, 0] = 1.0  # a model indifferent between all three passages
    d = torch.tensor([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0]])
    each = [score_distillation(flat[i : i + 1], d, teacher[i : i + 1], 0.05, 0.1).item() for i in range(2)]
    assert score_distillation(flat, d, teacher, 0.05, 0.1).item() == pytest.approx(sum(each) / 2, rel=1e-5)
    assert score_distillation(flat, d, teacher, 0.05, 0.1, agree).item() == pytest.approx(each[0], rel=1e-5)
    none = torch.tensor([False, False])
    assert score_distillation(flat, d, teacher, 0.05, 0.1, none).item() == 0.0


def test_batches_cover_each_epoch_once():
    seen = [i for s in range(5) for i in batch_indices(10, 2, s, seed=1)]
    assert sorted(seen) == list(range(10))
    assert batch_indices(10, 2, 7, seed=1) == batch_indices(10, 2, 7, seed=1)


def test_pairs_file_errors(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_text('{"query": "q", "positive": "p"}\n{"query": "", "positive": "p"}\n')
    with pytest.raises(Exception, match="p.jsonl:2: needs non-empty"):
        load_pairs(path)


def test_seqs_hold_rows_longest_first_and_pad_a_span_only_to_its_longest():
    ids = [[5, 6], [1, 2, 3, 4], [7], [8, 9, 10]]
    seqs = Seqs(ids, pad_id=0, device="cpu", assistant=[1, 2, 0, 3])
    assert seqs.order == [1, 3, 0, 2] and seqs.lengths == [4, 3, 2, 1] and seqs.assistant == [2, 3, 1, 0]
    tail = seqs.rows(2, 4)  # the two shortest: 2 columns, not the batch's 4
    assert tail["input_ids"].tolist() == [[5, 6], [0, 7]]
    assert tail["attention_mask"].tolist() == [[1, 1], [0, 1]] and tail["position_ids"].tolist() == [[0, 1], [0, 0]]
    assert seqs.rows(0, 2)["position_ids"].tolist() == [[0, 1, 2, 3], [0, 0, 1, 2]]
    assert seqs.padded_tokens([(0, 2), (2, 4)]) == 2 * 4 + 2 * 2
    held = torch.tensor([[float(len(ids[i]))] for i in seqs.order])
    assert seqs.restore(held).flatten().tolist() == [2.0, 4.0, 1.0, 3.0]  # the caller's order again
    plain = Seqs(ids, pad_id=0, device="cpu", sort=False)
    assert plain.order == [0, 1, 2, 3] and plain.rows(0, 1)["input_ids"].tolist() == [[5, 6]]


@pytest.mark.tiny
def test_chunked_sorted_vectors_equal_each_prompt_embedded_alone(tmp_path):
    """The trainer's vectors of a batch (held longest first, 3-row chunks each padded to its own
    longest, restored to the pairs' order) are each prompt's vector without any padding."""
    trainer = SFTTrainer(small(steps=1, negatives=1), PAIRS, tmp_path)
    groups = trainer.batch(*trainer.batch_texts(0))
    assert len(set(groups[DOCUMENTS].lengths)) > 1  # the test needs prompts of different lengths
    with torch.no_grad():
        for group in (QUERIES, DOCUMENTS):
            seqs = groups[group]
            held = torch.cat([trainer._forward(seqs, s, min(s + 3, len(seqs)), 1)[0] for s in range(0, len(seqs), 3)])
            batched = seqs.restore(held)
            for i, row in enumerate(seqs.order):
                ids = seqs.input_ids[i, -seqs.lengths[i]:].tolist()
                alone = trainer._forward(Seqs([ids], trainer.pad_id, "cpu"), 0, 1, 1)[0][0]
                torch.testing.assert_close(batched[row], alone, atol=2e-5, rtol=1e-4)


@pytest.mark.tiny
def test_every_loss_term_is_finite_and_kl_starts_at_zero(tmp_path):
    trainer = SFTTrainer(small(), PAIRS, tmp_path)
    first = trainer.train_step()
    second = trainer.train_step()
    for row in (first, second):
        for key in ("loss", "nce", "triplet", "lm", "kl", "grad_norm"):
            assert math.isfinite(row[key]), (key, row)
        assert not row["skipped"]
    assert first["kl"] == pytest.approx(0.0, abs=1e-7)  # LoRA starts as the identity
    assert second["kl"] > 0 and first["lm"] > 1.0


@pytest.mark.tiny
def test_distillation_reads_the_teachers_scores_of_the_batch(tmp_path):
    from searchr3.eval.sentence_encoders import load_sentence_encoder

    trainer = SFTTrainer(small(w_distill=1.0, steps=2), PAIRS, tmp_path)
    pairs, docs = trainer.batch_texts(0)
    scores = trainer.teacher_scores(pairs, docs)
    assert scores.shape == (len(pairs), 2 * len(pairs))  # positives, then one hard negative each
    minilm = load_sentence_encoder()
    for i, pair in enumerate(pairs):  # each row and column is the text the model contrasts there
        q, pos, neg = minilm.encode([pair.query, pair.positive, pair.negatives[0]], normalize_embeddings=True)
        assert scores[i, i].item() == pytest.approx(float(q @ pos), abs=1e-4)
        assert scores[i, len(pairs) + i].item() == pytest.approx(float(q @ neg), abs=1e-4)
    row = trainer.train_step()
    assert math.isfinite(row["distill"]) and row["distill"] > 0
    parts = row["nce"] + 0.5 * row["triplet"] + row["distill"] + 0.1 * row["lm"] + 0.1 * row["kl"]
    assert row["loss"] == pytest.approx(parts, rel=1e-6)
    assert "distilled" not in row  # every row is distilled unless --teacher-must-agree
    plain = SFTTrainer(small(steps=2), PAIRS, tmp_path / "plain")
    assert plain.teacher is None and plain.train_step()["distill"] == 0.0
    agreeing = SFTTrainer(small(w_distill=1.0, teacher_must_agree=True, steps=2), PAIRS, tmp_path / "agree")
    pairs, docs = agreeing.batch_texts(0)
    share = float(teacher_agrees(agreeing.teacher_scores(pairs, docs)).float().mean())
    assert agreeing.train_step()["distilled"] == pytest.approx(share)


def _step_gradients(trainer: SFTTrainer) -> tuple[dict, dict]:
    """One training step: its log row and the gradients the optimizer stepped with (after clipping)."""
    params = {n: p for n, p in trainer.peft_model.named_parameters() if p.requires_grad}
    captured = {}
    step = trainer.optimizer.step

    def snapshot(*args, **kwargs):
        captured.update({n: p.grad.detach().clone() for n, p in params.items() if p.grad is not None})
        return step(*args, **kwargs)

    trainer.optimizer.step = snapshot
    return trainer.train_step(), captured


@pytest.mark.tiny
def test_gradient_caching_matches_the_direct_gradient(tmp_path):
    """The gradient of a step in 2-sequence chunks equals the gradient of the whole batch at
    once (compared before the optimizer, whose first Adam step amplifies rounding)."""
    grads = []
    for chunk in (2, 64):
        trainer = SFTTrainer(small(chunk_size=chunk, steps=1), PAIRS, tmp_path / str(chunk))
        grads.append(_step_gradients(trainer)[1])
    assert grads[0].keys() == grads[1].keys() and len(grads[0]) > 0
    for name in grads[0]:
        torch.testing.assert_close(grads[0][name], grads[1][name], atol=1e-7, rtol=1e-3)


@pytest.mark.tiny
def test_infonce_falls_on_a_fixed_batch(tmp_path):
    trainer = SFTTrainer(small(steps=8, lr=2e-3, w_lm=0.0, w_kl=0.0), PAIRS, tmp_path)  # the batch is all 4 pairs
    rows = [trainer.train_step() for _ in range(8)]
    assert rows[-1]["nce"] < 0.7 * rows[0]["nce"], [round(r["nce"], 3) for r in rows]


@pytest.mark.tiny
def test_resume_reaches_the_same_state(tmp_path):
    straight = SFTTrainer(small(), PAIRS, tmp_path / "a")
    straight.fit()
    interrupted = SFTTrainer(small(), PAIRS, tmp_path / "b")
    interrupted.train_step()
    interrupted.train_step()
    interrupted.save()
    del interrupted
    resumed = SFTTrainer(small(), PAIRS, tmp_path / "b")
    assert resumed.resume() and resumed.step == 2
    resumed.fit()
    a = {n: p for n, p in straight.peft_model.named_parameters() if p.requires_grad}
    b = {n: p for n, p in resumed.peft_model.named_parameters() if p.requires_grad}
    for name in a:
        torch.testing.assert_close(a[name], b[name], atol=1e-6, rtol=1e-5)
    log = [json.loads(line) for line in (tmp_path / "b" / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [3, 4]


@pytest.mark.tiny
def test_a_fitted_schedule_ends_within_max_minutes_with_the_learning_rate_at_zero(tmp_path):
    """--fit-schedule times the steps after the first and ends the cosine where the time runs out
    (here fitted after 2 steps, with a clock that moves 2 s at every reading: 6 s a step, 30 s
    allowed, so 2 + floor(0.95 * 18 s / 6 s) = 4); without it the same time cuts the run mid-schedule."""

    def run(name: str, **changes) -> tuple[SFTTrainer, list[dict]]:
        trainer = SFTTrainer(small(steps=40, max_minutes=0.5, save_every=100, **changes), PAIRS, tmp_path / name)
        ticks = iter(range(0, 10**6, 2))
        trainer.clock, trainer.fit_after = (lambda: float(next(ticks))), 1
        trainer.fit()
        return trainer, [json.loads(line) for line in (tmp_path / name / "log.jsonl").read_text().splitlines()]

    fitted, log = run("fit", fit_schedule=True)
    assert fitted.step == fitted.total_steps == 4 and len(log) == 4 and log[1]["total_steps"] == 4
    assert log[-1]["lr"] == pytest.approx(0.0, abs=1e-12) and log[1]["lr"] > log[2]["lr"] > log[3]["lr"]
    resumed = SFTTrainer(small(steps=40), PAIRS, tmp_path / "fit")
    assert resumed.resume() and (resumed.step, resumed.total_steps) == (4, 4)
    cut, log = run("cut")
    assert cut.total_steps == 40 and cut.step == 5 and log[-1]["lr"] > 0.5 * 1e-3  # stopped by the deadline


@pytest.mark.tiny
def test_saved_adapter_reloads_into_the_retriever(tmp_path):
    from searchr3.index.vectors import IndexLocation, VectorIndex
    from searchr3.ingestion.pipeline import Ingestor

    trainer = SFTTrainer(small(steps=2), PAIRS, tmp_path / "run")
    trainer.fit()
    adapter = trainer.export()
    trainer.peft_model.eval()
    reloaded = Embedder.load(ModelConfig(model=str(tiny_model_dir()), adapter=str(adapter), precision="float32"))
    in_memory = Embedder.from_model(trainer.peft_model, trainer.tokenizer, base_id=trainer.base_id, adapter_id="x")
    texts = [p.positive for p in PAIRS]
    assert np.abs(reloaded.embed_documents(texts) - in_memory.embed_documents(texts)).max() < 1e-4
    docs = tmp_path / "docs"
    docs.mkdir()
    for i, p in enumerate(PAIRS):
        (docs / f"{i}.txt").write_text(p.positive)
    Ingestor(reloaded, VectorIndex(IndexLocation.embedded(tmp_path / "db"), reloaded.fingerprint, reloaded.dim)).run(
        [docs]
    )
    model = ModelConfig(model=str(tiny_model_dir()), adapter=str(adapter))
    retriever = SearchR3Retriever.load(tmp_path / "db", model=model, k=2)
    found = retriever.invoke("how do I reverse a list?")
    assert found[0].metadata["file_name"] == "0.txt"


@pytest.mark.tiny
def test_cli_writes_adapter_log_and_curve(tmp_path):
    data = tmp_path / "pairs.jsonl"
    data.write_text(
        "\n".join(
            json.dumps({"query": p.query, "positive": p.positive, "negatives": list(p.negatives)}) for p in PAIRS
        )
    )
    args = "--steps 2 --batch-size 4 --chunk-size 4 --max-query-tokens 16 --max-document-tokens 24 --lora-r 4".split()
    args += ["--model", str(tiny_model_dir())]
    out = subprocess.run(
        [sys.executable, "-m", "training.sft", "--data", str(data), "--out", str(tmp_path / "run"), *args],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr
    run = tmp_path / "run"
    for name in (
        "adapter/adapter_model.safetensors",
        "adapter/searchr3_adapter.json",
        "log.jsonl",
        "loss.png",
        "summary.json",
        "config.json",
    ):
        assert (run / name).is_file(), name
    assert json.loads((run / "summary.json").read_text())["steps"] == 2
    bad = subprocess.run(
        [sys.executable, "-m", "training.sft", "--data", str(tmp_path / "nope.jsonl"), "--out", str(tmp_path / "x")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 2 and bad.stderr.strip() == f"error: no such pairs file: {tmp_path / 'nope.jsonl'}"


@pytest.mark.tiny
def test_accelerate_launch_two_cpu_processes_writes_the_same_results(tmp_path):
    """``accelerate launch --multi_gpu --num_processes 2 -m training.sft`` on a machine without
    CUDA: two processes over gloo (each a shard of every batch), the same files, summary and
    log keys and learning-rate schedule as one process, and an adapter that loads."""
    data = tmp_path / "pairs.jsonl"
    data.write_text("\n".join(
        json.dumps({"query": p.query, "positive": p.positive, "negatives": list(p.negatives)}) for p in PAIRS
    ))
    args = ["--data", str(data), "--model", str(tiny_model_dir()), "--steps", "6", "--batch-size", "4",
            "--chunk-size", "8",
            "--max-query-tokens", "16", "--max-document-tokens", "24", "--lora-r", "4",
            "--max-minutes", "30", "--fit-schedule"]  # fitted after 5 steps, by both processes alike
    launch = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
              "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no"]
    runs = {}
    for name, prefix in (("one", [sys.executable]), ("two", launch)):
        out = subprocess.run([*prefix, "-m", "training.sft", *args, "--out", str(tmp_path / name)],
                             capture_output=True, text=True, timeout=600)
        assert out.returncode == 0, out.stderr[-2000:]
        runs[name] = json.loads((tmp_path / name / "summary.json").read_text())
    assert (runs["one"]["processes"], runs["two"]["processes"]) == (1, 2)
    assert runs["one"].keys() == runs["two"].keys() and runs["two"]["steps"] == runs["two"]["total_steps"] == 6
    logs = [[json.loads(line) for line in (tmp_path / n / "log.jsonl").read_text().splitlines()] for n in runs]
    assert [row.keys() for row in logs[0]] == [row.keys() for row in logs[1]] and len(logs[1]) == 6
    assert logs[1][4]["total_steps"] == 6  # 30 minutes hold all 6 steps
    assert all(math.isfinite(row["loss"]) for row in logs[1])
    assert [row["lr"] for row in logs[0]] == [row["lr"] for row in logs[1]]  # one scheduler step per step
    for name in ("adapter/adapter_model.safetensors", "loss.png", "config.json"):
        assert (tmp_path / "two" / name).is_file(), name
    adapter = ModelConfig(model=str(tiny_model_dir()), adapter=str(tmp_path / "two" / "adapter"), precision="float32")
    assert Embedder.load(adapter).embed_query("reverse a list").shape == (HIDDEN,)


def test_a_teacher_that_is_not_there_is_one_line(tmp_path):
    from training.inputs import load_teacher

    missing = r"^--teacher '.*nowhere': no such folder: .*nowhere \(or name one of minilm, mpnet\)$"
    with pytest.raises(ConfigError, match=missing):
        load_teacher(str(tmp_path / "nowhere"))


@pytest.mark.tiny
def test_training_the_top_layers_gives_their_full_gradient_and_leaves_the_rest(tmp_path):
    """--train-layers 2: the second pass starts from the first pass's kept hidden states and gives
    the last two layers the gradient a whole-model step gives them (clipping off, so that the
    other layers' gradients do not rescale it); after the step nothing below them has moved."""
    grads = []
    for layers in (0, 2):
        trainer = SFTTrainer(small(train_layers=layers, steps=1, max_grad_norm=1e9), PAIRS, tmp_path / str(layers))
        before = {n: p.detach().clone() for n, p in trainer.peft_model.named_parameters()}
        row, captured = _step_gradients(trainer)
        assert math.isfinite(row["loss"]) and not row["skipped"]
        assert trainer.top is None if layers == 0 else trainer.top.kept == {}  # every kept state was used
        grads.append(captured)
    full, top = grads
    last = {f".layers.{i}." for i in (LAYERS - 2, LAYERS - 1)}
    assert top and all(any(k in name for k in last) for name in top)
    assert {n for n in full if any(k in n for k in last)} == set(top)
    for name in top:
        torch.testing.assert_close(top[name], full[name], atol=1e-7, rtol=1e-3)
    moved = {n for n, p in trainer.peft_model.named_parameters() if not torch.equal(p.detach(), before[n])}
    assert moved and moved <= set(top)
    with pytest.raises(ConfigError, match=f"between 1 and the model's {LAYERS} layers, not {LAYERS + 1}"):
        SFTTrainer(small(train_layers=LAYERS + 1), PAIRS, tmp_path / "too-many")
