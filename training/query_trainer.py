"""Query-side training: a query adapter learns to read plain queries into the vector space of a
frozen documents adapter.

The documents adapter embeds the positives of the training pairs once (the *bank*,
:mod:`training.query_bank`); a trainable copy of it (or of ``--init``) embeds batches of the
pairs' queries, and InfoNCE asks each query to find its positive among the whole bank, with the
bank passages a teacher scores as close as the positive left out of its negatives
(``--filter-margin``); with ``--w-distill``, each query's softmax over the bank is also pulled
toward the teacher's (score distillation). Documents are never re-embedded, so an index built
with the documents adapter is searched with the trained query adapter as it is
(``ModelConfig.query_adapter``).
"""

from __future__ import annotations

import math
from pathlib import Path

import torch

from searchr3.config import ModelConfig
from searchr3.embedding.embedder import Embedder
from searchr3.embedding.encoding import PromptEncoder
from searchr3.embedding.readout import vectors_from_hidden
from searchr3.model.loading import load_model

from .config import QueryConfig
from .inputs import adapter_option, load_teacher, teacher_vectors
from .loop import TrainingLoop, make_accelerator
from .losses import bank_info_nce, score_distillation
from .pairs import Pair, batch_indices
from .query_bank import BankRows, content_key, embed_bank, near_positives
from .seqs import Seqs

LOG_KEYS = ["loss", "nce", "distill", "top1", "grad_norm"]
STARTS = "query side training starts from a trained adapter"


def draw_pairs(pairs: list[Pair], n: int, seed: int) -> list[Pair]:
    """``n`` pairs drawn by ``seed`` (all of them, in the file's order, for 0)."""
    if n == 0 or n >= len(pairs):
        return list(pairs)
    order = torch.randperm(len(pairs), generator=torch.Generator().manual_seed(seed))[:n]
    return [pairs[i] for i in sorted(order.tolist())]


class QueryTrainer(TrainingLoop):
    """Trains a query adapter against a documents adapter's frozen bank (see module docstring).

    Build it, call :meth:`prepare` (embeds the bank, or reads it back from ``OUT/bank``), then
    :meth:`fit`."""

    curves, curve_keys, title = "loss.png", LOG_KEYS, "query side: InfoNCE over the bank"

    def __init__(self, config: QueryConfig, pairs: list[Pair], out: Path, accelerator=None):
        from peft import PeftModel

        self.config, self.out = config, out
        self.pairs = draw_pairs(pairs, config.pairs, config.seed)
        self.accelerator = accelerator or make_accelerator(config.mixed_precision)
        torch.manual_seed(config.seed)
        self.documents = adapter_option(config.model, "--documents", config.documents, STARTS)
        init = adapter_option(config.model, "--init", config.init, STARTS) if config.init else self.documents
        base = load_model(ModelConfig(model=config.model, adapter=None, query_adapter=None,
                                      device=str(self.accelerator.device), precision="float32"))
        self.base_id, self.tokenizer, self.embed_id = base.base_id, base.tokenizer, base.embed_token_id
        model = PeftModel.from_pretrained(base.model, init, is_trainable=True)
        model.train()
        self.optimize(model)
        self.pad_id = self.tokenizer.pad_token_id
        encoder = PromptEncoder(self.tokenizer, "query", config.max_query_tokens)
        self.query_ids = [p.ids for p in encoder.encode([p.query for p in self.pairs])]
        self.rows = BankRows.of(self.pairs)
        self.bank: torch.Tensor | None = None
        self.excluded: list[torch.Tensor] | None = None
        self.teacher_queries: torch.Tensor | None = None  # [pairs, H'] and [bank, H']: the teacher's vectors
        self.teacher_bank: torch.Tensor | None = None
        self.step = 0

    def prepare(self, tick=lambda phase, done, total: None) -> None:
        """Embed the bank with the documents adapter (parts already in ``OUT/bank`` are read back)
        and, with a filter margin or distillation, embed the pairs and the bank with the teacher."""
        cfg = self.config
        # the bank in the training's own precision, not the machine's default (bfloat16 on CPUs that have it)
        precision = "bfloat16" if self.accelerator.mixed_precision == "bf16" else "float32"
        documents = Embedder.load(ModelConfig(model=cfg.model, adapter=str(self.documents), query_adapter=None,
                                              max_document_tokens=cfg.max_document_tokens,
                                              device=str(self.accelerator.device), precision=precision))
        key = self.rows.key(documents.fingerprint, str(cfg.max_document_tokens))
        embed = lambda texts: torch.from_numpy(documents.embed_documents(texts))  # noqa: E731
        with self.accelerator.main_process_first():  # the others then read the saved parts back
            bank = embed_bank(embed, self.rows.texts, self.out / "bank", key,
                              lambda done, total: tick("bank", done, total))
        self.bank = bank.to(self.accelerator.device)
        if cfg.filter_margin > 0 or cfg.w_distill > 0:  # the teacher's vectors, saved like the bank
            teacher = None

            def encode(texts: list[str]) -> torch.Tensor:
                nonlocal teacher
                if teacher is None:
                    teacher = load_teacher(cfg.teacher)
                return teacher_vectors(teacher, texts)

            def saved(name: str, rows: list[str]) -> torch.Tensor:
                return embed_bank(encode, rows, self.out / "teacher" / name, content_key(rows, "teacher", cfg.teacher),
                                  lambda done, total: tick(f"teacher: {name}", done, total))

            with self.accelerator.main_process_first():
                passages = saved("passages", self.rows.texts)
                queries = saved("queries", [p.query for p in self.pairs])
            if cfg.filter_margin > 0:
                self.excluded = near_positives(queries, passages, self.rows.labels, cfg.filter_margin)
            if cfg.w_distill > 0:
                self.teacher_queries, self.teacher_bank = queries, passages

    def excluded_share(self) -> float:
        """Mean bank rows left out of a query's negatives, as a share of the bank."""
        if not self.excluded:
            return 0.0
        return sum(len(e) for e in self.excluded) / len(self.excluded) / max(len(self.rows.texts), 1)

    def train_step(self) -> dict:
        if self.bank is None:
            raise RuntimeError("QueryTrainer.prepare() embeds the bank before the first step")
        cfg, acc = self.config, self.accelerator
        chosen = batch_indices(len(self.pairs), cfg.batch_size, self.step, cfg.seed)
        mine = chosen[acc.process_index :: acc.num_processes]
        seqs = Seqs([self.query_ids[i] for i in mine], self.pad_id, acc.device)
        rows = seqs.rows(0, len(seqs))
        with acc.autocast():
            out = self.model(**rows, output_hidden_states=True, logits_to_keep=1, use_cache=False)
        queries = seqs.restore(vectors_from_hidden(out.hidden_states[-1], rows["input_ids"], self.embed_id))
        labels = torch.tensor([self.rows.labels[i] for i in mine])
        excluded = [self.excluded[i] for i in mine] if self.excluded is not None else None
        nce, first = bank_info_nce(queries, self.bank, labels, cfg.tau, excluded)
        loss, distill = nce, torch.zeros(())
        if self.teacher_bank is not None:  # the teacher's graded order of the whole bank
            scores = self.teacher_queries[mine] @ self.teacher_bank.T
            agree = scores.argmax(dim=-1) == labels if cfg.teacher_must_agree else None
            distill = score_distillation(queries.float(), self.bank.float(), scores, cfg.tau, cfg.teacher_tau, agree)
            loss = nce + cfg.w_distill * distill
        acc.backward(loss)
        grad_norm = float(acc.clip_grad_norm_(self.model.parameters(), cfg.max_grad_norm))
        skipped = not (math.isfinite(loss.item()) and math.isfinite(grad_norm))
        if not skipped:  # a non-finite step would poison the weights: drop it
            self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.step += 1
        return {"step": self.step, "loss": loss.item(), "nce": nce.item(), "distill": distill.item(),
                "top1": float(first.float().mean()),
                "grad_norm": grad_norm, "skipped": skipped, "lr": self.scheduler.get_last_lr()[0]}
