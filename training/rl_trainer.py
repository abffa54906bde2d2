"""Stage 2, reasoning for retrieval: the GRPO trainer.

Each step takes ``queries`` training queries and samples ``group`` reasoning traces for each
(GRPO rollouts); a trace ends in ``<|embed_token|>`` and its embedding is read there. The
reward of a rollout is the retrieval quality of its positive document in the RL corpus
(:class:`~training.rl_env.CorpusEnvironment`, refreshed locally as the policy changes) plus
a format reward; with ``over_plain`` the retrieval part is the gain over the plain (no-trace)
query read by the same weights. Queries come from those with room to improve: the plain query
ranks their positive at ``min_plain_rank`` or below (chosen again at every full refresh).
Advantages are normalised within each query's group; with ``drop_flat`` a group whose rewards
are all equal is left out of the update. The loss on the generated tokens is the clipped policy
gradient plus ``beta`` times the KL (k3 estimator) to the reference policy, the ``--init``
adapter frozen (:func:`~training.losses.grpo_loss`), plus ``w_nce`` times InfoNCE of every
rollout's vector (its positive against the rest of the corpus), so the read-out stays
contrastive. LoRA via peft; accelerate handles devices and bf16 on CUDA.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from searchr3.config import ModelConfig
from searchr3.embedding.batching import pad_right
from searchr3.embedding.embedder import Embedder
from searchr3.embedding.readout import embed_states
from searchr3.embedding.reasoning import Sampling, Trace
from searchr3.errors import InvalidInputError
from searchr3.model.adapter import apply_adapter
from searchr3.model.loading import load_model

from .config import RLConfig
from .inputs import adapter_option
from .loop import TrainingLoop, make_accelerator
from .losses import grpo_loss, token_logprobs
from .pairs import Pair, batch_indices
from .rewards import (
    FormatRule,
    format_reward,
    group_advantages,
    informative_groups,
    retrieval_reward,
    softmax_reward,
    with_room,
)
from .rl_env import Corpus, CorpusEnvironment, positive_ranks

LOG_KEYS = ["reward", "retrieval", "gain", "format", "hit@1", "kl", "nce", "trace_tokens", "emitted",
            "refresh_seconds"]


class NoRoomError(InvalidInputError):
    """No training query leaves a trace room to improve (every plain query already ranks its positive high)."""


@dataclass
class Rollouts:
    """One step's rollouts: ``queries x group`` traces in query order, and their scores."""

    traces: list[Trace]
    positives: np.ndarray
    vectors: np.ndarray
    ranks: np.ndarray
    plain_ranks: np.ndarray  # per query (not per rollout): the plain query's rank of its positive
    retrieval: np.ndarray  # per rollout: 1/rank or the softmax probability of its positive
    gain: np.ndarray  # per rollout: retrieval minus its plain query's (the reward's part with ``over_plain``)
    format: np.ndarray
    rewards: np.ndarray
    advantages: np.ndarray
    refresh_rows: np.ndarray
    refresh_full: bool
    refresh_seconds: float


class RLTrainer(TrainingLoop):
    """GRPO on reasoning traces with the retrieval reward (see module docstring)."""

    curves, curve_keys, title = "rewards.png", LOG_KEYS, "stage 2 (RL)"

    def __init__(self, config: RLConfig, pairs: list[Pair], out: Path, accelerator=None):
        from peft import PeftModel

        self.config, self.out = config, out
        self.accelerator = accelerator or make_accelerator(config.mixed_precision)
        torch.manual_seed(config.seed)
        device = str(self.accelerator.device)
        init = adapter_option(config.model, "--init", config.init, "RL starts from a stage-1 adapter")
        # the reference policy: the init adapter, frozen, through peft like the policy (so the KL
        # starts at exactly 0; apply_adapter checks that the adapter exists and fits)
        frozen = load_model(ModelConfig(model=config.model, adapter=None, device=device, precision="float32"))
        self.reference_model, _ = apply_adapter(frozen.model, init, frozen.base_id)
        self.reference_model.requires_grad_(False)
        base = load_model(ModelConfig(model=config.model, adapter=None, device=device, precision="float32"))
        self.base_id, self.tokenizer, self.embed_id = base.base_id, base.tokenizer, base.embed_token_id
        policy = PeftModel.from_pretrained(base.model, init, is_trainable=True)
        policy.train()
        self.optimize(policy, cosine=False)
        self.pad_id = (
            self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else self.tokenizer.eos_token_id
        )
        limits = ModelConfig(model=config.model, adapter=None, max_query_tokens=config.max_query_tokens,
                             max_document_tokens=config.max_document_tokens, max_batch_size=max(8, config.micro_batch))
        # the policy as an embedder: rollouts and document vectors come from the current weights
        self.embedder = Embedder.from_model(
            self.peft_model, self.tokenizer, base_id=self.base_id, adapter_id="rl-policy", config=limits
        )
        self.corpus = Corpus.from_pairs(pairs, config.corpus_pairs, config.seed)
        self.env = CorpusEnvironment(self._encode_docs, len(self.corpus.docs), config.neighbours, config.candidates,
                                     config.full_every, config.band, config.band_limit)
        # called with each step's rollouts before the update (the policy that produced them);
        # what they return joins the log row (bench/rl_env.py compares environments this way)
        self.observers: list[Callable[[Rollouts], dict]] = []
        self.format_rule = FormatRule(max_tokens=config.max_new_tokens)
        self.step = 0
        self.pool = self.choose_pool()
        if not len(self.pool):
            raise NoRoomError(
                f"no training query has room to improve: every plain query of the {len(self.corpus.pairs)} corpus "
                f"pairs ranks its positive above {config.min_plain_rank}; lower --min-plain-rank or raise "
                "--corpus-pairs"
            )

    def choose_pool(self) -> np.ndarray:
        """Indices of the corpus pairs whose plain query ranks its positive at ``min_plain_rank``
        or below in the environment as it stands (every pair when that is 1)."""
        every = np.arange(len(self.corpus.pairs))
        if self.config.min_plain_rank <= 1:
            return every
        ranks = positive_ranks(self._plain_scores(every), np.asarray(self.corpus.positive))
        return with_room(ranks, self.config.min_plain_rank)

    def _choose_pool_again(self) -> None:
        """After a full refresh: the pool under the current weights (kept as it was if none has room)."""
        pool = self.choose_pool()
        self.pool = pool if len(pool) else self.pool

    def _plain_scores(self, chosen: np.ndarray) -> np.ndarray:
        """Corpus scores ``[len(chosen), docs]`` of the chosen pairs' plain (no-trace) queries."""
        self.peft_model.eval()
        return self.env.scores(self.embedder.embed_queries([self.corpus.pairs[i].query for i in chosen]))

    def _retrieval(self, scores: np.ndarray, positives: np.ndarray) -> np.ndarray:
        if self.config.reward == "softmax":
            return softmax_reward(scores, positives, self.config.reward_temperature)
        return retrieval_reward(positive_ranks(scores, positives))

    def _encode_docs(self, rows) -> np.ndarray:
        return self.embedder.embed_documents([self.corpus.docs[i] for i in rows])

    # -- rollouts --------------------------------------------------------------------------

    def rollout(self, step: int | None = None) -> Rollouts:
        """Sample traces for this step's queries, refresh the environment, score them."""
        cfg = self.config
        step = self.step if step is None else step
        chosen = self.pool[batch_indices(len(self.pool), cfg.queries, step, cfg.seed)]
        sampling = Sampling(do_sample=True, temperature=cfg.temperature, top_p=cfg.top_p, num_samples=cfg.group,
                            seed=cfg.seed * 1_000_003 + step)
        self.peft_model.eval()
        traces = self.embedder.traces([self.corpus.pairs[i].query for i in chosen], sampling, cfg.max_new_tokens)
        vectors = self.embedder.vectors_for_ids([t.final_ids for t in traces])
        own = np.asarray(self.corpus.positive)[chosen]
        positives = own[[t.query_index for t in traces]]
        t0 = time.perf_counter()
        refresh = self.env.refresh(positives, vectors)
        seconds = time.perf_counter() - t0
        scores = self.env.scores(vectors)
        ranks = positive_ranks(scores, positives)
        retrieval = self._retrieval(scores, positives)
        # the plain (no-trace) query of each chosen pair, read by the same weights, same corpus state
        plain_scores = self._plain_scores(chosen)
        plain_ranks = positive_ranks(plain_scores, own)
        gain = retrieval - self._retrieval(plain_scores, own)[[t.query_index for t in traces]]
        if refresh.full:
            self._choose_pool_again()
        fmt = np.array(
            [format_reward(t.text, t.emitted_embed_token, len(t.generated_ids), self.format_rule) for t in traces]
        )
        rewards = (gain if cfg.over_plain else retrieval) + cfg.w_format * fmt
        return Rollouts(
            traces,
            positives,
            vectors,
            ranks,
            plain_ranks,
            retrieval,
            gain,
            fmt,
            rewards,
            group_advantages(rewards, cfg.group),
            refresh.rows,
            refresh.full,
            seconds,
        )

    # -- the update ------------------------------------------------------------------------

    def _logprobs(self, model, traces: list[Trace]) -> tuple[torch.Tensor, torch.Tensor]:
        return token_logprobs(model, [t.prompt_ids for t in traces], [t.generated_ids for t in traces], self.pad_id,
                              self.accelerator.device)

    def _micro_batches(self, n: int):
        size = max(1, self.config.micro_batch)
        return [list(range(s, min(s + size, n))) for s in range(0, n, size)]

    def _vectors(self, traces: list[Trace]) -> torch.Tensor:
        """The rollouts' search vectors with gradients: the policy's read-out at their embed token."""
        ids, mask = pad_right([t.final_ids for t in traces], self.pad_id)
        device = self.accelerator.device
        return embed_states(self.peft_model, ids.to(device), mask.to(device), self.embed_id)

    def update(self, rollouts: Rollouts) -> dict:
        """``ppo_epochs`` passes of the loss over the rollouts; one optimizer step each.

        The policy-gradient part covers the informative groups (all of them without
        ``drop_flat``); the InfoNCE part every rollout. With neither, no step is taken.
        """
        cfg, acc = self.config, self.accelerator
        traces, device = rollouts.traces, acc.device
        keep_group = (informative_groups(rollouts.rewards, cfg.group) if cfg.drop_flat
                      else np.ones(len(traces) // cfg.group, dtype=bool))
        kept = [i for i in range(len(traces)) if keep_group[i // cfg.group]]
        advantages = torch.tensor(rollouts.advantages, dtype=torch.float32, device=device)
        pg_batches = [[kept[j] for j in b] for b in self._micro_batches(len(kept))]
        nce_batches = self._micro_batches(len(traces)) if cfg.w_nce > 0 else []
        stats = {"pg": 0.0, "kl": 0.0, "nce": 0.0, "grad_norm": 0.0, "clipped": 0.0,
                 "dropped_groups": float(1 - keep_group.mean()), "updated": bool(pg_batches or nce_batches)}
        if not stats["updated"]:
            self.scheduler.step()
            return stats
        with torch.no_grad(), acc.autocast():
            ref = [self._logprobs(self.reference_model, [traces[i] for i in b])[0] for b in pg_batches]
        docs = torch.as_tensor(self.env.vectors, device=device)
        targets = torch.as_tensor(rollouts.positives, device=device)
        work = [("pg", j) for j in range(len(pg_batches))] + [("nce", j) for j in range(len(nce_batches))]
        old: list[torch.Tensor] = []
        self.peft_model.train()
        for epoch in range(max(1, cfg.ppo_epochs)):
            kl_sum = pg_sum = nce_sum = clipped = tokens = 0.0
            for n, (kind, j) in enumerate(work):
                with acc.autocast():
                    if kind == "pg":
                        b = pg_batches[j]
                        logp, mask = self._logprobs(self.model, [traces[i] for i in b])
                        if epoch == 0:
                            old.append(logp.detach())
                        per_seq, kl = grpo_loss(logp, old[j], ref[j], mask, advantages[b], cfg.clip, cfg.beta)
                        loss = per_seq.sum() / len(kept)
                    else:
                        b = nce_batches[j]
                        logits = self._vectors([traces[i] for i in b]) @ docs.T / cfg.tau
                        nce = torch.nn.functional.cross_entropy(logits.float(), targets[b], reduction="sum")
                        loss = cfg.w_nce * nce / len(traces)
                if n < len(work) - 1:
                    with acc.no_sync(self.model):
                        acc.backward(loss)
                else:
                    acc.backward(loss)
                if kind == "pg":
                    kl_sum += kl.sum().item()
                    pg_sum += (per_seq - cfg.beta * kl).sum().item()
                    ratio = torch.exp(logp.detach() - old[j])
                    clipped += (((ratio - 1).abs() > cfg.clip) & mask).sum().item()
                    tokens += mask.sum().item()
                else:
                    nce_sum += nce.item()
            grad_norm = float(acc.clip_grad_norm_(self.model.parameters(), cfg.max_grad_norm))
            if math.isfinite(grad_norm):  # a non-finite step would poison the weights: drop it
                self.optimizer.step()
            self.optimizer.zero_grad(set_to_none=True)
            if epoch == 0:  # the terms as they were before this step's update
                stats.update(pg=pg_sum / max(len(kept), 1), kl=kl_sum / max(len(kept), 1),
                             nce=nce_sum / len(traces), grad_norm=grad_norm, clipped=clipped / max(tokens, 1))
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
            "gain": float(r.gain.mean()),
            "plain_rank": float(np.median(r.plain_ranks)),
            "pool": len(self.pool),
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
            self._choose_pool_again()
        return resumed
