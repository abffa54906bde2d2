"""Stage 1, instruction-guided representation: ``python -m training.sft --data PAIRS.jsonl --out DIR``.

Loss = w_lm * LM cross-entropy on the query prompt's assistant turn ("The embedding is
<|embed_token|>") + w_kl * KL to the frozen base (the same model, adapters disabled) on
those positions + w_nce * InfoNCE (in-batch and hard negatives, temperature tau) +
w_triplet * triplet margin. LoRA via peft, the embed-token row trained through
``trainable_token_indices``. The contrastive batch can be much larger than what fits in
memory: embeddings are computed without gradients first, the contrastive loss gives their
gradients, then each chunk is re-run with gradients (gradient caching). accelerate handles
devices and mixed precision; ``accelerate launch -m training.sft ...`` runs it distributed
(each process then contrasts its own share of the batch).
"""

from __future__ import annotations

import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path

import torch

from searchr3.batching import pad_left
from searchr3.config import DEFAULT_MODEL, ModelConfig
from searchr3.encoding import PromptEncoder
from searchr3.loading import LoadedModel, load_model
from searchr3.prompts import EMBED_SUFFIX
from searchr3.readout import vectors_from_hidden

from .devset import evaluate_adapter
from .loop import TrainingLoop, make_accelerator, parse_args, run_cli
from .losses import info_nce, kl_to_base, lm_loss, triplet
from .pairs import Pair, batch_indices

LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
LOSS_KEYS = ["loss", "nce", "triplet", "lm", "kl", "grad_norm"]


@dataclass
class SFTConfig:
    """Every knob of a stage-1 run (``--config FILE`` takes a JSON of these names)."""

    model: str = DEFAULT_MODEL
    steps: int = 300
    batch_size: int = 32
    chunk_size: int = 16
    negatives: int = 1
    lr: float = 2e-4
    warmup: int = 10
    lora_r: int = 8
    lora_alpha: int = 16
    max_grad_norm: float = 1.0
    tau: float = 0.05
    margin: float = 0.2
    w_lm: float = 0.1
    w_kl: float = 0.1
    w_nce: float = 1.0
    w_triplet: float = 0.5
    max_query_tokens: int = 64
    max_doc_tokens: int = 192
    save_every: int = 50
    seed: int = 0
    eval_data: str | None = None
    mixed_precision: str = "auto"  # "auto": bf16 on CUDA, none on CPU
    max_minutes: float = 0.0  # > 0: stop (checkpoint and export) after this much training time


class Seqs:
    """Left-padded prompt batches with position ids, so every prompt ends at the last
    column: the embed token's position and the assistant turn are the same for all rows."""

    def __init__(self, ids: list[list[int]], pad_id: int, device):
        input_ids, mask = pad_left(ids, pad_id)
        self.input_ids = input_ids.to(device)
        self.attention_mask = mask.to(device)
        self.position_ids = (mask.cumsum(1) - 1).clamp(min=0).to(device)

    def rows(self, start: int, end: int) -> dict:
        return {"input_ids": self.input_ids[start:end], "attention_mask": self.attention_mask[start:end],
                "position_ids": self.position_ids[start:end]}


class SFTTrainer(TrainingLoop):
    """Trains a LoRA adapter for the Search-R3 read-out (see module docstring)."""

    curves, curve_keys, title = "loss.png", LOSS_KEYS, "stage 1 (SFT) losses"

    def __init__(self, config: SFTConfig, pairs: list[Pair], out: Path, accelerator=None):
        from peft import LoraConfig, get_peft_model

        self.config, self.pairs, self.out = config, pairs, out
        self.accelerator = accelerator or make_accelerator(config.mixed_precision)
        torch.manual_seed(config.seed)
        base: LoadedModel = load_model(ModelConfig(model=config.model, adapter=None, device=str(self.accelerator.device), dtype="float32"))
        self.base_id, self.tokenizer, self.embed_id = base.base_id, base.tokenizer, base.embed_token_id
        lora = LoraConfig(r=config.lora_r, lora_alpha=config.lora_alpha, lora_dropout=0.0,
                          target_modules=LORA_TARGETS, trainable_token_indices=[self.embed_id])
        model = get_peft_model(base.model, lora)
        model.train()
        params = [p for p in model.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=0.0)
        warmup, total = max(config.warmup, 1), max(config.steps, 1)
        schedule = lambda s: min(1.0, (s + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * min(s, total) / total))  # noqa: E731
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
        self.model, self.optimizer, self.scheduler = self.accelerator.prepare(model, optimizer, scheduler)
        self.pad_id = self.tokenizer.pad_token_id
        self.queries = PromptEncoder(self.tokenizer, "query", config.max_query_tokens)
        self.docs = PromptEncoder(self.tokenizer, "document", config.max_doc_tokens)
        self.assistant_ids = self.tokenizer(EMBED_SUFFIX, add_special_tokens=False)["input_ids"]
        self.step = 0

    # -- one optimizer step ------------------------------------------------------------

    def _forward(self, seqs: Seqs, start: int, end: int, logits_to_keep: int):
        with self.accelerator.autocast():
            out = self.model(**seqs.rows(start, end), output_hidden_states=True, logits_to_keep=logits_to_keep, use_cache=False)
        vectors = vectors_from_hidden(out.hidden_states[-1], seqs.input_ids[start:end], self.embed_id)
        return vectors, out.logits

    def _language_terms(self, seqs: Seqs, start: int, end: int, logits: torch.Tensor):
        """LM and KL on the assistant turn: the logits at the n tokens before each of the
        assistant's n tokens (the last n columns, since prompts are left-padded)."""
        n = len(self.assistant_ids)
        targets = seqs.input_ids[start:end, -n:]
        policy = logits[:, :n]
        with torch.no_grad(), self.peft_model.disable_adapter(), self.accelerator.autocast():
            base = self.model(**seqs.rows(start, end), logits_to_keep=n + 1, use_cache=False).logits[:, :n]
        return lm_loss(policy, targets), kl_to_base(policy, base)

    def _embed_all(self, seqs: Seqs) -> torch.Tensor:
        with torch.no_grad():
            parts = [self._forward(seqs, s, s + self.config.chunk_size, 1)[0] for s in range(0, seqs.input_ids.shape[0], self.config.chunk_size)]
        return torch.cat(parts)

    def batch(self, step: int) -> tuple[Seqs, Seqs]:
        """Query prompts and document prompts (positives first, then hard negatives)."""
        acc = self.accelerator
        chosen = batch_indices(len(self.pairs), self.config.batch_size, step, self.config.seed)[acc.process_index :: acc.num_processes]
        pairs = [self.pairs[i] for i in chosen]
        docs = [p.positive for p in pairs] + [n for p in pairs for n in p.negatives[: self.config.negatives]]
        q = Seqs([p.ids for p in self.queries.encode([p.query for p in pairs])], self.pad_id, acc.device)
        d = Seqs([p.ids for p in self.docs.encode(docs)], self.pad_id, acc.device)
        return q, d

    def train_step(self) -> dict:
        cfg, acc = self.config, self.accelerator
        q, d = self.batch(self.step)
        # 1. embeddings without gradients
        q_emb, d_emb = self._embed_all(q).requires_grad_(), self._embed_all(d).requires_grad_()
        # 2. contrastive loss and its gradient with respect to the embeddings
        nce, tri = info_nce(q_emb, d_emb, cfg.tau), triplet(q_emb, d_emb, cfg.margin)
        (cfg.w_nce * nce + cfg.w_triplet * tri).backward()
        q_grad, d_grad = q_emb.grad, d_emb.grad
        # 3. re-run each chunk with gradients; LM and KL on the query chunks
        n_q = q.input_ids.shape[0]
        lm_total, kl_total = 0.0, 0.0
        chunks = [(q, s, q_grad) for s in range(0, n_q, cfg.chunk_size)]
        chunks += [(d, s, d_grad) for s in range(0, d.input_ids.shape[0], cfg.chunk_size)]
        for i, (seqs, s, grad) in enumerate(chunks):
            e = min(s + cfg.chunk_size, seqs.input_ids.shape[0])
            is_query = seqs is q
            vectors, logits = self._forward(seqs, s, e, len(self.assistant_ids) + 1 if is_query else 1)
            surrogate = (vectors * grad[s:e]).sum()
            if is_query:
                lm, kl = self._language_terms(seqs, s, e, logits)
                share = (e - s) / n_q
                surrogate = surrogate + share * (cfg.w_lm * lm + cfg.w_kl * kl)
                lm_total += share * lm.item()
                kl_total += share * kl.item()
            if i < len(chunks) - 1:
                with acc.no_sync(self.model):
                    acc.backward(surrogate)
            else:
                acc.backward(surrogate)
        loss = cfg.w_nce * nce.item() + cfg.w_triplet * tri.item() + cfg.w_lm * lm_total + cfg.w_kl * kl_total
        grad_norm = float(acc.clip_grad_norm_(self.model.parameters(), cfg.max_grad_norm))
        skipped = not (math.isfinite(loss) and math.isfinite(grad_norm))
        if not skipped:  # a non-finite step would poison the weights: drop it
            self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.step += 1
        return {"step": self.step, "loss": loss, "nce": nce.item(), "triplet": tri.item(), "lm": lm_total, "kl": kl_total,
                "grad_norm": grad_norm, "skipped": skipped, "lr": self.scheduler.get_last_lr()[0]}


def main(argv: list[str] | None = None) -> int:
    args, config = parse_args(argv, "python -m training.sft", "Stage 1: contrastive SFT of the Search-R3 read-out.", SFTConfig)

    def finish(trainer: SFTTrainer, adapter: Path, summary: dict) -> None:
        if config.eval_data:
            summary["eval"] = evaluate_adapter(adapter, Path(config.eval_data), str(trainer.accelerator.device))
            print(f"dev set: {json.dumps({k: round(v, 4) for k, v in summary['eval'].items() if k != 'model'})}", file=sys.stderr)

    return run_cli(args, config, lambda pairs: SFTTrainer(config, pairs, args.out), "SFT",
                   lambda r: f"loss {r['loss']:.3f} nce {r['nce']:.3f} lm {r['lm']:.3f} kl {r['kl']:.4f}", finish)


if __name__ == "__main__":
    sys.exit(main())
