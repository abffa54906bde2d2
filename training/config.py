"""Training configurations: the fields both stages share, and each stage's own.

Every field carries its help text and, where it has one, its valid range or choices
(``field(metadata={"help": ..., "at_least": ...})``). The command lines are generated from
these classes (:mod:`training.options`), so ``--help`` describes every option and a JSON given
with ``--config`` uses the same names. ``__post_init__`` checks each field against its range
and the combinations that cannot work, and raises :class:`ConfigError` with a message that
says what to change.
"""

from __future__ import annotations

from dataclasses import MISSING, dataclass, field, fields

from searchr3.config import DEFAULT_ADAPTER, DEFAULT_MODEL
from searchr3.errors import InvalidInputError

MIXED_PRECISION = ("auto", "no", "bf16", "fp16")
RL_REWARDS = ("rank", "softmax")
LM_SPANS = ("turn", "trace")
# metadata key -> (test, how the limit reads in a message)
_LIMITS = {
    "at_least": (lambda v, lim: v >= lim, "at least {}"),
    "above": (lambda v, lim: v > lim, "greater than {}"),
    "at_most": (lambda v, lim: v <= lim, "at most {}"),
    "below": (lambda v, lim: v < lim, "less than {}"),
}


class ConfigError(InvalidInputError):
    """A training configuration that cannot work (the message says what to change)."""


def option(default, help: str, **rules):
    """A config field with its help text and rules: ``at_least``, ``above``, ``at_most``,
    ``below`` (bounds), ``choices``, and ``why`` (said when a rule is broken)."""
    unknown = set(rules) - {*_LIMITS, "choices", "why"}
    if unknown:
        raise TypeError(f"unknown rule(s) {sorted(unknown)}")
    return field(default=default, metadata={"help": help, **rules})


def flag(name: str) -> str:
    """The command-line spelling of a field name."""
    return "--" + name.replace("_", "-")


def _either(values) -> str:
    shown = [repr(v) for v in values]
    return shown[0] if len(shown) == 1 else f"{', '.join(shown[:-1])} or {shown[-1]}"


def describe_rules(meta) -> str:
    """The rules of a field in words ("at least 1", "'rank' or 'softmax'"), or ''."""
    if "choices" in meta:
        return _either(meta["choices"])
    return " and ".join(text.format(meta[key]) for key, (_, text) in _LIMITS.items() if key in meta)


def check_rules(name: str, value, meta) -> None:
    """Raise :class:`ConfigError` when ``value`` breaks a rule of field ``name``."""
    ok = value in meta["choices"] if "choices" in meta else all(
        test(value, meta[key]) for key, (test, _) in _LIMITS.items() if key in meta)
    if not ok:
        why = f" ({meta['why']})" if "why" in meta else ""
        raise ConfigError(f"{flag(name)} must be {describe_rules(meta)}, not {value!r}{why}")


@dataclass
class TrainingConfig:
    """The knobs every training stage has."""

    model: str = option(DEFAULT_MODEL, "base model: the embedded default, a local Hugging Face folder or a hub id")
    steps: int = option(300, "optimizer steps to run", at_least=1)
    lr: float = option(2e-4, "peak learning rate (AdamW)", above=0)
    warmup: int = option(10, "steps of linear learning-rate warm-up", at_least=0)
    max_grad_norm: float = option(1.0, "clip the gradient norm to this before each optimizer step", above=0)
    max_query_tokens: int = option(64, "query text beyond this many tokens is cut", at_least=1)
    max_document_tokens: int = option(192, "document text beyond this many tokens is cut", at_least=1)
    save_every: int = option(50, "write a checkpoint (and the curves) every this many steps", at_least=1)
    seed: int = option(0, "seed of the batch order, sampling and initialisation")
    eval_data: str | None = option(None, "a dev set (BEIR folder) evaluated with the exported adapter at the end")
    mixed_precision: str = option(
        "auto", "'auto' is bf16 on CUDA and full precision elsewhere", choices=MIXED_PRECISION
    )
    max_minutes: float = option(0.0, "stop (checkpoint, export) after this many minutes of training; 0: no limit",
                                at_least=0)
    fit_schedule: bool = option(False, "under a time limit (max minutes): after the first steps, cut the steps to "
                                       "what fits in the time left, so stage 1's cosine schedule still ends at zero")

    def __post_init__(self) -> None:
        for f in fields(self):
            check_rules(f.name, getattr(self, f.name), f.metadata)


def _inherited(name: str, default):
    """A field of :class:`TrainingConfig` with another default (its help and rules kept)."""
    base = TrainingConfig.__dataclass_fields__[name]
    assert base.default is not MISSING
    return field(default=default, metadata=base.metadata)


@dataclass
class SFTConfig(TrainingConfig):
    """Stage 1: contrastive SFT of the Search-R3 read-out (LM + KL + InfoNCE + triplet, LoRA)."""

    batch_size: int = option(32, "pairs per contrastive batch; the other positives are in-batch negatives",
                             at_least=2, why="InfoNCE needs in-batch negatives")
    chunk_size: int = option(16, "sequences per forward pass: the memory knob of gradient caching "
                                 "(results do not depend on it)", at_least=1)
    negatives: int = option(1, "hard negatives per pair, taken from the pairs file", at_least=0)
    lora_r: int = option(8, "LoRA rank", at_least=1)
    lora_alpha: int = option(16, "LoRA alpha (the update is scaled by alpha / r)", above=0)
    tau: float = option(0.05, "InfoNCE temperature", above=0)
    margin: float = option(0.2, "triplet margin on cosine similarities")
    w_lm: float = option(0.1, "weight of the LM loss on the assistant turn", at_least=0)
    w_kl: float = option(0.1, "weight of the KL to the frozen base model", at_least=0)
    lm_span: str = option("turn", "which assistant turns the LM and KL terms train: 'turn', every one (a trace "
                                  "and the embed sentence; the embed sentence alone after a plain query), or "
                                  "'trace', only those with a trace (nothing after a plain query)",
                          choices=LM_SPANS)
    w_nce: float = option(1.0, "weight of the InfoNCE loss", at_least=0)
    w_triplet: float = option(0.5, "weight of the triplet margin loss", at_least=0)
    w_distill: float = option(0.0, "weight of score distillation: KL from a teacher encoder's softmax over "
                                   "the batch's passages to the model's (0: no teacher)", at_least=0)
    teacher: str = option("minilm", "the teacher of score distillation: 'minilm' (MiniLM L6 v2, from its wheel), "
                                    "'mpnet' (MPNet base v2, from its five wheels) or a folder with a "
                                    "SentenceTransformer model")
    teacher_tau: float = option(0.05, "temperature of the teacher's cosines in score distillation", above=0)
    teacher_must_agree: bool = option(False, "distil only the queries whose labelled positive the teacher "
                                             "also ranks first among the batch's passages")
    max_trace_tokens: int = option(48, "a pair's trace target beyond this many tokens is cut", at_least=1)
    init: str | None = option(None, "start from this adapter ('default': the shipped one) instead of a fresh "
                                    "LoRA; its rank and targets are kept")
    train_layers: int = option(0, "train only the LoRA weights of the last N decoder layers (0: all of them); the "
                                  "layers below run once a step, without gradients", at_least=0)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.w_nce == 0 and self.w_triplet == 0:
            raise ConfigError(
                "--w-nce and --w-triplet are both 0: nothing would train the read-out; make one positive"
            )


@dataclass
class RLConfig(TrainingConfig):
    """Stage 2: GRPO of the reasoning trace for retrieval, in a locally refreshed corpus environment."""

    steps: int = _inherited("steps", 40)
    lr: float = _inherited("lr", 2e-5)
    warmup: int = _inherited("warmup", 2)
    max_document_tokens: int = _inherited("max_document_tokens", 128)
    save_every: int = _inherited("save_every", 20)
    init: str = option(DEFAULT_ADAPTER, "the stage-1 adapter to start from; frozen, it is also the reference policy")
    # rollouts
    queries: int = option(4, "training queries per step", at_least=1)
    group: int = option(4, "rollouts (sampled traces) per query: the GRPO group size G",
                        at_least=2, why="GRPO compares the rollouts of one query")
    max_new_tokens: int = option(32, "tokens a trace may take before the embed token is forced", at_least=1)
    temperature: float = option(1.0, "sampling temperature of the rollouts", above=0)
    top_p: float = option(1.0, "nucleus sampling of the rollouts (1: off)", above=0, at_most=1)
    # the update
    clip: float = option(0.2, "PPO clip range of the probability ratio", above=0, below=1)
    beta: float = option(0.005, "weight of the KL (k3) to the reference policy", at_least=0)
    ppo_epochs: int = option(1, "passes (optimizer steps) over each step's rollouts", at_least=1)
    micro_batch: int = option(8, "rollouts per forward pass in the update", at_least=1)
    # the reward
    w_format: float = option(0.5, "weight of the format reward (embed token emitted, trace not empty, length)")
    reward: str = option("rank", "retrieval reward: 1/rank of the positive, or its softmax probability",
                         choices=RL_REWARDS)
    reward_temperature: float = option(0.05, "temperature of the 'softmax' reward", above=0)
    over_plain: bool = option(True, "the retrieval reward is the gain over the plain query's (the query embedded "
                                    "without a trace by the same weights): the trace's reward minus the plain one's")
    min_plain_rank: int = option(2, "train on the queries whose plain query ranks their positive at this rank "
                                    "or below (room to improve; 1: all); chosen again at every full refresh",
                                 at_least=1)
    drop_flat: bool = option(True, "leave groups whose rewards are all equal out of the update "
                                   "(no policy gradient; their KL would only hold the policy back)")
    w_nce: float = option(0.1, "weight of InfoNCE on the sampled traces' vectors: the positive against every "
                               "other corpus document (keeps the embedding contrastive)", at_least=0)
    tau: float = option(0.05, "temperature of that InfoNCE", above=0)
    # the corpus environment
    corpus_pairs: int = option(128, "pairs whose positives and negatives make up the RL corpus", at_least=1)
    neighbours: int = option(4, "degree of the corpus k-nearest-neighbour graph", at_least=1)
    candidates: int = option(4, "top documents each rollout retrieves, added to the refreshed region", at_least=0)
    full_every: int = option(10, "re-encode the whole corpus every this many steps (0: never)", at_least=0)
    band: float = option(1.0, "also re-encode stale documents within this x the observed drift of a positive's "
                              "score (0: off)", at_least=0)
    band_limit: int = option(16, "most documents the drift band adds per refresh", at_least=0)


@dataclass
class QueryConfig(TrainingConfig):
    """Query side only: a query adapter trained against a documents adapter's frozen passage vectors
    (InfoNCE of each query over the whole bank of the pairs' positives); indexes keep their vectors."""

    steps: int = _inherited("steps", 150)
    lr: float = _inherited("lr", 1e-4)
    warmup: int = _inherited("warmup", 5)
    save_every: int = _inherited("save_every", 20)
    documents: str = option(DEFAULT_ADAPTER, "the adapter that reads documents: it embeds the bank once (frozen) "
                                             "and users' indexes; 'default': the shipped one")
    init: str | None = option(None, "start the query adapter from this adapter instead of the documents adapter")
    batch_size: int = option(64, "queries per optimizer step", at_least=1)
    pairs: int = option(0, "train on this many pairs drawn by the seed from the file (0: all); their positives "
                           "make up the bank", at_least=0)
    tau: float = option(0.05, "InfoNCE temperature", above=0)
    filter_margin: float = option(0.0, "leave out of each query's negatives the bank passages the teacher scores "
                                       "within this of its positive (likely false negatives; 0: keep all)", at_least=0)
    teacher: str = option("minilm", "the teacher of that filter and of score distillation: 'minilm' (MiniLM L6 v2, "
                                    "from its wheel), 'mpnet' (MPNet base v2, from its five wheels) or a folder "
                                    "with a SentenceTransformer model")
    w_distill: float = option(0.0, "weight of score distillation: KL from the teacher's softmax over the bank "
                                   "to the query adapter's (0: InfoNCE only)", at_least=0)
    teacher_tau: float = option(0.05, "temperature of the teacher's cosines in score distillation", above=0)
    teacher_must_agree: bool = option(False, "distil only the queries whose positive the teacher also ranks "
                                             "first in the bank")
