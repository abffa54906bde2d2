"""Stage 1, instruction-guided representation: the trainer.

Loss = w_lm * LM cross-entropy on the query prompt's assistant turn ("The embedding is
<|embed_token|>"; for a pair with a ``trace``, the query is a reasoning prompt and the
assistant turn is the trace, then the embed sentence, so the model learns to write the trace
and the read-out learns to use it; ``lm_span="trace"``: only the turns with a trace) + w_kl *
KL to the frozen base (the same model, adapters disabled) on those positions + w_nce *
InfoNCE (in-batch and hard negatives, temperature tau) + w_triplet * triplet margin +
w_distill * score distillation (the model's softmax over the batch's passages pulled toward a
teacher encoder's, e.g. all-MiniLM-L6-v2). LoRA via peft, the embed-token row trained through
``trainable_token_indices``. The contrastive batch can be much larger than what fits in
memory (:class:`~training.grad_cache.GradientCache`); ``train_layers`` trains only the last
decoder layers and runs the ones below once a step (:class:`~training.top_layers.TopLayers`).
accelerate handles devices and mixed precision; under ``accelerate launch`` each process
contrasts its own share of the batch.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch

from searchr3.config import ModelConfig
from searchr3.embedding.encoding import PromptEncoder
from searchr3.embedding.readout import vectors_from_hidden
from searchr3.embedding.reasoning import TraceFrame
from searchr3.model.loading import LoadedModel, load_model
from searchr3.model.prompts import EMBED_SUFFIX

from .config import SFTConfig
from .grad_cache import GradientCache
from .inputs import adapter_option, load_teacher, teacher_vectors
from .loop import TrainingLoop, make_accelerator
from .losses import info_nce, kl_to_base, lm_loss, score_distillation, teacher_agrees, triplet
from .pairs import Pair, batch_indices
from .seqs import Seqs
from .top_layers import TopLayers

LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
LOSS_KEYS = ["loss", "nce", "triplet", "distill", "lm", "kl", "grad_norm"]
QUERIES, DOCUMENTS = 0, 1  # the two groups of a contrastive batch


class SFTTrainer(TrainingLoop):
    """Trains a LoRA adapter for the Search-R3 read-out (see module docstring)."""

    curves, curve_keys, title = "loss.png", LOSS_KEYS, "stage 1 (SFT) losses"

    def __init__(self, config: SFTConfig, pairs: list[Pair], out: Path, accelerator=None):
        from peft import LoraConfig, PeftModel, get_peft_model

        self.config, self.pairs, self.out = config, pairs, out
        self.accelerator = accelerator or make_accelerator(config.mixed_precision)
        torch.manual_seed(config.seed)
        base: LoadedModel = load_model(
            ModelConfig(model=config.model, adapter=None, device=str(self.accelerator.device), precision="float32")
        )
        self.base_id, self.tokenizer, self.embed_id = base.base_id, base.tokenizer, base.embed_token_id
        if config.init:
            init = adapter_option(config.model, "--init", config.init)
            model = PeftModel.from_pretrained(base.model, init, is_trainable=True)
        else:
            lora = LoraConfig(r=config.lora_r, lora_alpha=config.lora_alpha, lora_dropout=0.0,
                              target_modules=LORA_TARGETS, trainable_token_indices=[self.embed_id])
            model = get_peft_model(base.model, lora)
        model.train()
        self.top = TopLayers(model, config.train_layers) if config.train_layers else None
        self.optimize(model)
        self.pad_id = self.tokenizer.pad_token_id
        self.queries = PromptEncoder(self.tokenizer, "query", config.max_query_tokens)
        self.docs = PromptEncoder(self.tokenizer, "document", config.max_document_tokens)
        self.reasoning = PromptEncoder(self.tokenizer, "reasoning", config.max_query_tokens)
        self.trace_frame = TraceFrame(self.tokenizer)
        self.assistant_ids = self.tokenizer(EMBED_SUFFIX, add_special_tokens=False)["input_ids"]
        self.teacher = load_teacher(config.teacher) if config.w_distill > 0 else None
        self.cache = GradientCache(config.chunk_size, self.accelerator.backward,
                                   lambda: self.accelerator.no_sync(self.model))
        self.sort_by_length = True  # chunks of similar lengths (False: the pairs' order, for bench.sft_step)
        self.step = 0

    # -- one optimizer step ------------------------------------------------------------

    def _forward(self, seqs: Seqs, start: int, end: int, logits_to_keep: int, key: tuple | None = None):
        """Vectors and logits of rows ``start:end``. With ``--train-layers``, a pass under ``key``
        keeps the frozen layers' output when it runs without gradients, and the pass with
        gradients under the same ``key`` starts from it (:class:`~training.top_layers.TopLayers`)."""
        rows = seqs.rows(start, end)
        kwargs = dict(output_hidden_states=True, logits_to_keep=logits_to_keep, use_cache=False)
        with self.accelerator.autocast():
            if self.top is not None and torch.is_grad_enabled() and key in self.top.kept:
                out = self.top.forward(self.model, key, rows, **kwargs)
            else:
                out = self.model(**rows, **kwargs)
                if self.top is not None and key is not None and not torch.is_grad_enabled():
                    self.top.keep(key, out.hidden_states)
        vectors = vectors_from_hidden(out.hidden_states[-1], rows["input_ids"], self.embed_id)
        return vectors, out.logits

    def _language_terms(self, seqs: Seqs, start: int, end: int, logits: torch.Tensor):
        """LM and KL on the assistant turns: the logits at the position before each of a row's
        assistant tokens (its last ``assistant`` columns, since prompts are left-padded); ``None``
        where the rows have none."""
        lengths = seqs.assistant[start:end]
        n = max(lengths)
        if n == 0:
            return None
        targets = seqs.input_ids[start:end, -n:]
        policy = logits[:, -n - 1 : -1]
        columns = torch.arange(n, device=targets.device)
        mask = columns[None, :] >= n - torch.tensor(lengths, device=targets.device)[:, None]
        with torch.no_grad(), self.peft_model.disable_adapter(), self.accelerator.autocast():
            base = self.model(**seqs.rows(start, end), logits_to_keep=n + 1, use_cache=False).logits[:, :n]
        return lm_loss(policy, targets, mask), kl_to_base(policy, base, mask)

    def query_ids(self, pair: Pair) -> tuple[list[int], int]:
        """A pair's query prompt ids and the length of the assistant turn the language terms
        train: the plain query prompt, or with a ``trace`` the reasoning prompt, the trace and
        the embed sentence (``lm_span="trace"``: no turn is trained after a plain query)."""
        if pair.trace is None:
            turn = 0 if self.config.lm_span == "trace" else len(self.assistant_ids)
            return self.queries.encode([pair.query])[0].ids, turn
        prompt = self.reasoning.encode([pair.query])[0].ids
        ids = self.trace_frame.final_ids(prompt, pair.trace, self.config.max_trace_tokens)
        return ids, len(ids) - len(prompt)

    def batch_texts(self, step: int) -> tuple[list[Pair], list[str]]:
        """This process's pairs of the step and its passages (positives first, then hard negatives)."""
        acc = self.accelerator
        chosen = batch_indices(len(self.pairs), self.config.batch_size, step, self.config.seed)
        pairs = [self.pairs[i] for i in chosen[acc.process_index :: acc.num_processes]]
        return pairs, [p.positive for p in pairs] + [n for p in pairs for n in p.negatives[: self.config.negatives]]

    def batch(self, pairs: list[Pair], docs: list[str]) -> tuple[Seqs, Seqs]:
        """Query prompts and document prompts of :meth:`batch_texts`' pairs and passages."""
        ids, assistant = zip(*(self.query_ids(p) for p in pairs))
        device, sort = self.accelerator.device, self.sort_by_length
        q = Seqs(list(ids), self.pad_id, device, list(assistant), sort=sort)
        d = Seqs([p.ids for p in self.docs.encode(docs)], self.pad_id, device, sort=sort)
        return q, d

    def teacher_scores(self, pairs: list[Pair], docs: list[str]) -> torch.Tensor:
        """The teacher's cosines ``[queries, passages]`` of :meth:`batch_texts`' pairs and passages."""
        queries = teacher_vectors(self.teacher, [p.query for p in pairs])
        return (queries @ teacher_vectors(self.teacher, docs).T).float()

    def train_step(self) -> dict:
        cfg = self.config
        texts = self.batch_texts(self.step)
        groups = self.batch(*texts)
        teacher = self.teacher_scores(*texts) if self.teacher is not None else None
        distilled = teacher_agrees(teacher) if teacher is not None and cfg.teacher_must_agree else None
        terms = {"nce": 0.0, "triplet": 0.0, "distill": 0.0, "lm": 0.0, "kl": 0.0}
        if distilled is not None:
            terms["distilled"] = float(distilled.float().mean())
        language_logits = max(groups[QUERIES].assistant) + 1  # logits kept on query passes with gradients

        def encode(group: int, start: int, end: int, with_grad: bool):
            keep = language_logits if group == QUERIES and with_grad else 1
            return self._forward(groups[group], start, end, keep, key=(group, start, end))

        def contrastive(embeddings: list[torch.Tensor]) -> torch.Tensor:
            q, d = (group.restore(e) for group, e in zip(groups, embeddings))  # back to pair order
            nce, tri = info_nce(q, d, cfg.tau), triplet(q, d, cfg.margin)
            terms.update(nce=nce.item(), triplet=tri.item())
            total = cfg.w_nce * nce + cfg.w_triplet * tri
            if teacher is not None:
                distill = score_distillation(q, d, teacher.to(q.device), cfg.tau, cfg.teacher_tau, distilled)
                terms["distill"] = distill.item()
                total = total + cfg.w_distill * distill
            return total

        def language(group: int, start: int, end: int, logits: torch.Tensor):
            if group != QUERIES:
                return None
            found = self._language_terms(groups[QUERIES], start, end, logits)
            if found is None:
                return None
            lm, kl = found
            share = (end - start) / len(groups[QUERIES])
            terms["lm"] += share * lm.item()
            terms["kl"] += share * kl.item()
            return share * (cfg.w_lm * lm + cfg.w_kl * kl)

        if self.top is not None:
            self.top.kept.clear()  # nothing of an earlier, interrupted step
        self.cache.step([len(g) for g in groups], encode, contrastive, language)
        loss = (
            cfg.w_nce * terms["nce"]
            + cfg.w_triplet * terms["triplet"]
            + cfg.w_distill * terms["distill"]
            + cfg.w_lm * terms["lm"]
            + cfg.w_kl * terms["kl"]
        )
        grad_norm = float(self.accelerator.clip_grad_norm_(self.model.parameters(), cfg.max_grad_norm))
        skipped = not (math.isfinite(loss) and math.isfinite(grad_norm))
        if not skipped:  # a non-finite step would poison the weights: drop it
            self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.step += 1
        return {"step": self.step, "loss": loss, **terms, "grad_norm": grad_norm, "skipped": skipped,
                "lr": self.scheduler.get_last_lr()[0]}
