"""Stage 2, reasoning for retrieval: ``python -m training.rl --data PAIRS.jsonl --init ADAPTER --out DIR``.

Each step takes ``queries`` training queries and samples ``group`` reasoning traces for each
(GRPO rollouts); a trace ends in ``<|embed_token|>`` and its embedding is read there. The
reward of a rollout is the reciprocal rank of its positive document in the RL corpus
(:class:`~training.rl_env.CorpusEnvironment`, refreshed locally as the policy changes) plus
a format reward. Advantages are normalised within each query's group. The loss on the
generated tokens is the clipped policy gradient plus ``beta`` times the KL (k3 estimator)
to the reference policy, the ``--init`` adapter frozen. LoRA via peft; accelerate handles
devices and bf16 on CUDA.
"""

from __future__ import annotations

import json
import math
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from searchr3.batching import pad_right
from searchr3.config import DEFAULT_ADAPTER, DEFAULT_MODEL, ModelConfig
from searchr3.embedder import Embedder
from searchr3.errors import InvalidInputError, ModelNotFoundError
from searchr3.loading import LoadedModel, load_model
from searchr3.reasoning import Sampling, Trace

from .devset import evaluate_adapter
from .loop import TrainingLoop, make_accelerator, parse_args, run_cli
from .pairs import Pair, batch_indices
from .rewards import FormatRule, format_reward, group_advantages, retrieval_reward, softmax_reward
from .rl_env import CorpusEnvironment, positive_ranks

LOG_KEYS = ["reward", "retrieval", "format", "hit@1", "kl", "trace_tokens", "emitted", "refresh_seconds"]


@dataclass
class RLConfig:
    """Every knob of a stage-2 run (``--config FILE`` takes a JSON of these names)."""

    model: str = DEFAULT_MODEL
    init: str = DEFAULT_ADAPTER  # the stage-1 adapter to start from; also the reference policy
    steps: int = 40
    queries: int = 4  # queries per step
    group: int = 4  # rollouts per query (G)
    max_new_tokens: int = 32
    temperature: float = 1.0
    top_p: float = 1.0
    lr: float = 2e-5
    warmup: int = 2
    clip: float = 0.2
    beta: float = 0.04
    ppo_epochs: int = 1
    micro_batch: int = 8
    max_grad_norm: float = 1.0
    w_format: float = 0.5
    reward: str = "rank"  # retrieval reward: "rank" (1/rank of the positive) or "softmax" (its probability)
    reward_temperature: float = 0.05  # of the "softmax" reward
    corpus_pairs: int = 128  # the pairs whose positives and negatives make up the RL corpus
    max_query_tokens: int = 64
    max_doc_tokens: int = 128
    neighbours: int = 4
    candidates: int = 4
    full_every: int = 10
    band: float = 1.0  # re-encode stale documents within this x the observed drift of a positive's score (0: off)
    band_limit: int = 16
    save_every: int = 20
    seed: int = 0
    eval_data: str | None = None
    mixed_precision: str = "auto"
    max_minutes: float = 0.0


@dataclass(frozen=True)
class Corpus:
    """The RL corpus: unique document texts, the training pairs drawn, each one's positive."""

    docs: list[str]
    pairs: list[Pair]
    positive: list[int]

    @classmethod
    def from_pairs(cls, pairs: list[Pair], n: int, seed: int) -> "Corpus":
        chosen = list(range(len(pairs)))
        random.Random(seed).shuffle(chosen)
        picked = [pairs[i] for i in chosen[: max(1, n)]]
        index: dict[str, int] = {}
        for text in [p.positive for p in picked] + [x for p in picked for x in p.negatives]:
            index.setdefault(text, len(index))
        return cls(list(index), picked, [index[p.positive] for p in picked])


@dataclass
class Rollouts:
    """One step's rollouts: ``queries x group`` traces in query order, and their scores."""

    traces: list[Trace]
    positives: np.ndarray
    vectors: np.ndarray
    ranks: np.ndarray
    retrieval: np.ndarray
    format: np.ndarray
    rewards: np.ndarray
    advantages: np.ndarray
    refresh_rows: np.ndarray
    refresh_full: bool
    refresh_seconds: float


def token_logprobs(model, traces: list[Trace], pad_id: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    """Log-probabilities ``[n, T]`` of each trace's generated tokens under ``model``, and
    the mask of real (non-padding) positions."""
    seqs = [t.prompt_ids + t.generated_ids for t in traces]
    ids, attention = pad_right(seqs, pad_id)
    ids, attention = ids.to(device), attention.to(device)
    start = min(len(t.prompt_ids) for t in traces) - 1  # the first position that predicts a generated token
    logits = model(input_ids=ids, attention_mask=attention, use_cache=False).logits[:, start:-1].float()
    targets = ids[:, start + 1 :]
    logp = logits.gather(-1, targets.unsqueeze(-1)).squeeze(-1) - torch.logsumexp(logits, dim=-1)
    pos = torch.arange(start + 1, ids.shape[1], device=device)
    lo = torch.tensor([len(t.prompt_ids) for t in traces], device=device)[:, None]
    hi = lo + torch.tensor([len(t.generated_ids) for t in traces], device=device)[:, None]
    mask = (pos[None, :] >= lo) & (pos[None, :] < hi)
    width = int(hi.max()) - start - 1
    return logp[:, :width], mask[:, :width]


def grpo_loss(logp, old_logp, ref_logp, mask, advantages, clip: float, beta: float):
    """Per-sequence mean over generated tokens of the clipped surrogate and ``beta`` x KL
    (k3: ``exp(ref - logp) - (ref - logp) - 1``); returns (loss per sequence, KL per sequence)."""
    ratio = torch.exp(logp - old_logp)
    adv = advantages[:, None]
    surrogate = torch.minimum(ratio * adv, ratio.clamp(1 - clip, 1 + clip) * adv)
    delta = ref_logp - logp
    kl = torch.exp(delta) - delta - 1
    m = mask.float()
    n = m.sum(dim=1).clamp(min=1)
    per_seq = ((-surrogate + beta * kl) * m).sum(dim=1) / n
    return per_seq, (kl * m).sum(dim=1) / n


class RLTrainer(TrainingLoop):
    """GRPO on reasoning traces with the retrieval reward (see module docstring)."""

    curves, curve_keys, title = "rewards.png", LOG_KEYS, "stage 2 (RL)"

    def __init__(self, config: RLConfig, pairs: list[Pair], out: Path, accelerator=None):
        from peft import PeftModel

        if config.reward not in ("rank", "softmax"):
            raise InvalidInputError(f"--reward must be 'rank' or 'softmax', not {config.reward!r}")
        self.config, self.out = config, out
        self.accelerator = accelerator or make_accelerator(config.mixed_precision)
        torch.manual_seed(config.seed)
        device = str(self.accelerator.device)
        init = ModelConfig(model=config.model, adapter=config.init).adapter_path()
        if init is None:
            raise ModelNotFoundError(f"RL starts from a stage-1 adapter: --init {config.init!r} names none for {config.model}")
        # the reference policy: the init adapter, frozen (load_model checks that it exists and fits)
        self.reference: LoadedModel = load_model(ModelConfig(model=config.model, adapter=str(init), device=device, dtype="float32"))
        self.reference.model.requires_grad_(False)
        base = load_model(ModelConfig(model=config.model, adapter=None, device=device, dtype="float32"))
        self.base_id, self.tokenizer, self.embed_id = base.base_id, base.tokenizer, base.embed_token_id
        policy = PeftModel.from_pretrained(base.model, init, is_trainable=True)
        policy.train()
        params = [p for p in policy.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=0.0)
        warmup = max(config.warmup, 1)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: min(1.0, (s + 1) / warmup))
        self.model, self.optimizer, self.scheduler = self.accelerator.prepare(policy, optimizer, scheduler)
        self.pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else self.tokenizer.eos_token_id
        limits = ModelConfig(model=config.model, adapter=None, max_query_tokens=config.max_query_tokens,
                             max_document_tokens=config.max_doc_tokens, max_batch_size=max(8, config.micro_batch))
        # the policy as an embedder: rollouts and document vectors come from the current weights
        self.embedder = Embedder(LoadedModel(self.peft_model, self.tokenizer, self.embed_id, self.base_id, "rl-policy",
                                             self.accelerator.device), limits)
        self.corpus = Corpus.from_pairs(pairs, config.corpus_pairs, config.seed)
        self.env = CorpusEnvironment(self._encode_docs, len(self.corpus.docs), config.neighbours, config.candidates,
                                     config.full_every, config.band, config.band_limit)
        # called with each step's rollouts before the update (the policy that produced them);
        # what they return joins the log row (bench/rl_env.py compares environments this way)
        self.observers: list[Callable[[Rollouts], dict]] = []
        self.format_rule = FormatRule(max_tokens=config.max_new_tokens)
        self.step = 0

    def _encode_docs(self, rows) -> np.ndarray:
        return self.embedder.embed_documents([self.corpus.docs[i] for i in rows])

    # -- rollouts --------------------------------------------------------------------------

    def rollout(self, step: int | None = None) -> Rollouts:
        """Sample traces for this step's queries, refresh the environment, score them."""
        cfg = self.config
        step = self.step if step is None else step
        chosen = batch_indices(len(self.corpus.pairs), cfg.queries, step, cfg.seed)
        sampling = Sampling(do_sample=True, temperature=cfg.temperature, top_p=cfg.top_p, num_samples=cfg.group,
                            seed=cfg.seed * 1_000_003 + step)
        self.peft_model.eval()
        traces = self.embedder.traces([self.corpus.pairs[i].query for i in chosen], sampling, cfg.max_new_tokens)
        vectors = self.embedder.vectors_for_ids([t.final_ids for t in traces])
        positives = np.array([self.corpus.positive[chosen[t.query_index]] for t in traces])
        t0 = time.perf_counter()
        refresh = self.env.refresh(positives, vectors)
        seconds = time.perf_counter() - t0
        scores = self.env.scores(vectors)
        ranks = positive_ranks(scores, positives)
        if cfg.reward == "softmax":
            retrieval = softmax_reward(scores, positives, cfg.reward_temperature)
        else:
            retrieval = retrieval_reward(ranks)
        fmt = np.array([format_reward(t.text, t.emitted_embed_token, len(t.generated_ids), self.format_rule) for t in traces])
        rewards = retrieval + cfg.w_format * fmt
        return Rollouts(traces, positives, vectors, ranks, retrieval, fmt, rewards, group_advantages(rewards, cfg.group),
                        refresh.rows, refresh.full, seconds)

    # -- the update ------------------------------------------------------------------------

    def _micro_batches(self, n: int):
        size = max(1, self.config.micro_batch)
        return [list(range(s, min(s + size, n))) for s in range(0, n, size)]

    def update(self, rollouts: Rollouts) -> dict:
        """``ppo_epochs`` passes of the GRPO loss over the rollouts; one optimizer step each."""
        cfg, acc = self.config, self.accelerator
        traces, device = rollouts.traces, acc.device
        advantages = torch.tensor(rollouts.advantages, dtype=torch.float32, device=device)
        batches = self._micro_batches(len(traces))
        with torch.no_grad(), acc.autocast():
            ref = [token_logprobs(self.reference.model, [traces[i] for i in b], self.pad_id, device)[0] for b in batches]
        old: list[torch.Tensor] = []
        self.peft_model.train()
        stats = {"pg": 0.0, "kl": 0.0, "grad_norm": 0.0, "clipped": 0.0}
        for epoch in range(max(1, cfg.ppo_epochs)):
            kl_sum, pg_sum, clipped, tokens = 0.0, 0.0, 0.0, 0.0
            for j, b in enumerate(batches):
                with acc.autocast():
                    logp, mask = token_logprobs(self.model, [traces[i] for i in b], self.pad_id, device)
                if epoch == 0:
                    old.append(logp.detach())
                per_seq, kl = grpo_loss(logp, old[j], ref[j], mask, advantages[b], cfg.clip, cfg.beta)
                loss = per_seq.sum() / len(traces)
                if j < len(batches) - 1:
                    with acc.no_sync(self.model):
                        acc.backward(loss)
                else:
                    acc.backward(loss)
                kl_sum += kl.sum().item()
                pg_sum += (per_seq - cfg.beta * kl).sum().item()
                ratio = torch.exp(logp.detach() - old[j])
                clipped += (((ratio - 1).abs() > cfg.clip) & mask).sum().item()
                tokens += mask.sum().item()
            grad_norm = float(acc.clip_grad_norm_(self.model.parameters(), cfg.max_grad_norm))
            if math.isfinite(grad_norm):  # a non-finite step would poison the weights: drop it
                self.optimizer.step()
            self.optimizer.zero_grad(set_to_none=True)
            if epoch == 0:  # KL and surrogate as they were before this step's update
                stats = {"pg": pg_sum / len(traces), "kl": kl_sum / len(traces), "grad_norm": grad_norm,
                         "clipped": clipped / max(tokens, 1)}
        self.scheduler.step()
        return stats

    def train_step(self) -> dict:
        t0 = time.perf_counter()
        r = self.rollout()
        t1 = time.perf_counter()
        observed = {k: v for observe in self.observers for k, v in observe(r).items()}
        t2 = time.perf_counter()
        stats = self.update(r)
        self.step += 1
        row = {
            "step": self.step,
            "reward": float(r.rewards.mean()),
            "reward_std": float(r.rewards.std()),
            "retrieval": float(r.retrieval.mean()),
            "format": float(r.format.mean()),
            "rank": float(np.median(r.ranks)),
            "hit@1": float((r.ranks == 1).mean()),
            "flat_groups": float((r.rewards.reshape(-1, self.config.group).std(axis=1) == 0).mean()),
            "trace_tokens": float(np.mean([len(t.generated_ids) for t in r.traces])),
            "emitted": float(np.mean([t.emitted_embed_token for t in r.traces])),
            **stats,
            "refresh_rows": len(r.refresh_rows),
            "refresh_full": r.refresh_full,
            "refresh_seconds": r.refresh_seconds,
            "rollout_seconds": t1 - t0,
            "update_seconds": time.perf_counter() - t2,
            "lr": self.scheduler.get_last_lr()[0],
            "example": r.traces[0].text[:200],
            **observed,
        }
        return row

    def resume(self) -> bool:
        """Continue from the newest checkpoint; the environment is rebuilt with a full encode."""
        resumed = super().resume()
        if resumed:
            self.env.refresh_full()
        return resumed


def main(argv: list[str] | None = None) -> int:
    args, config = parse_args(argv, "python -m training.rl", "Stage 2: RL of the reasoning trace for retrieval.", RLConfig)

    def finish(trainer: RLTrainer, adapter: Path, summary: dict) -> None:
        summary.update(corpus_docs=len(trainer.corpus.docs), corpus_pairs=len(trainer.corpus.pairs))
        if config.eval_data:
            summary["eval_reasoning"] = evaluate_adapter(adapter, Path(config.eval_data), str(trainer.accelerator.device),
                                                         reasoning=True, model=config.model)
            print(f"dev set + reasoning: {json.dumps({k: round(v, 4) for k, v in summary['eval_reasoning'].items() if k != 'model'})}",
                  file=sys.stderr)

    return run_cli(args, config, lambda pairs: RLTrainer(config, pairs, args.out), "RL",
                   lambda r: f"reward {r['reward']:.3f} rr {r['retrieval']:.3f} kl {r['kl']:.4f} tokens {r['trace_tokens']:.0f}",
                   finish)


if __name__ == "__main__":
    sys.exit(main())
