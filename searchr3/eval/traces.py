"""Does the embedder use reasoning traces, and how much could choosing them gain?

    python -m searchr3.eval.traces --data data/pyfaq [--samples 8] [--adapter DIR] [--out docs/traces.md]

The same checkpoint embeds every dev query after different traces: none (the plain query
prompt), an empty one, the query repeated, an oracle built from the query's positive passage
(its distinctive terms, :mod:`searchr3.research.trace_targets`), the model's greedy trace, and N
sampled ones (their mean, and the best per query: the headroom of selecting traces). Two
probes of traces that cannot invent facts: the plain search's top passage's distinctive terms
(feedback: a trace built from the user's own documents), and the model's greedy continuation
of a forced term-list opening. A noise control for the forced samples' best-of-N: each query's
sample mean plus another query's sample deviations (what picking by the label gains from spread
alone). Plain and trace vectors mixed with a weight show what a
combination would give. Each row has nDCG@10, Recall@10, MRR@10 and per-query wins/losses
against the plain prompt. The plain prompt is read as search reads it: by the query adapter
where the configuration has one (``--query-adapter none``: by the checkpoint itself); traces
always by the checkpoint.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from searchr3.cli import add_model_args, model_config, print_error
from searchr3.embedding.embedder import Embedder
from searchr3.embedding.reasoning import Sampling
from searchr3.errors import SearchR3Error
from searchr3.eval.beir import Dataset, load_beir
from searchr3.eval.metrics import mrr_at_k, ndcg_at_k, recall_at_k
from searchr3.progress import phase_progress
from searchr3.research.spread import borrow_spread
from searchr3.research.trace_targets import OPENING, TermWeights, opened_traces, passage_trace

MIX_WEIGHTS = (0.25, 0.5, 0.75)


@dataclass
class Variant:
    """One way of reading the queries: per-query nDCG@10, Recall@10, MRR@10, trace tokens."""

    name: str
    ndcg: np.ndarray
    recall: np.ndarray
    mrr: np.ndarray
    tokens: float = 0.0

    def row(self, plain: Variant) -> list[str]:
        wins = int(np.sum(self.ndcg > plain.ndcg + 1e-9))
        losses = int(np.sum(self.ndcg < plain.ndcg - 1e-9))
        return [self.name, f"{self.ndcg.mean():.4f}", f"{self.recall.mean():.4f}", f"{self.mrr.mean():.4f}",
                f"{wins}/{losses}", f"{self.tokens:.0f}" if self.tokens else ""]


COLUMNS = ("trace", "nDCG@10", "R@10", "MRR@10", "wins/losses vs plain", "trace tokens")


class Scorer:
    """Per-query metrics of query vectors against one embedded corpus."""

    def __init__(self, data: Dataset, docs: np.ndarray, doc_ids: list[str], q_ids: list[str]):
        self.data, self.docs, self.doc_ids, self.q_ids = data, docs, doc_ids, q_ids

    def __call__(self, name: str, queries: np.ndarray, tokens: float = 0.0) -> Variant:
        order = np.argsort(-(queries @ self.docs.T), axis=1)[:, :10]
        ranked = [[self.doc_ids[i] for i in row] for row in order]
        rels = [self.data.qrels[q] for q in self.q_ids]
        return Variant(
            name,
            np.array([ndcg_at_k(r, rel, 10) for r, rel in zip(ranked, rels)]),
            np.array([recall_at_k(r, rel, 10) for r, rel in zip(ranked, rels)]),
            np.array([mrr_at_k(r, rel, 10) for r, rel in zip(ranked, rels)]),
            tokens,
        )


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def passage_traces(data: Dataset, q_ids: list[str], passages: list[str], weights: TermWeights) -> list[str]:
    """Per query, a trace from the distinctive terms (and heading) of the passage given for it."""
    traces = []
    for q, passage in zip(q_ids, passages):
        title, text = data.corpus[passage]
        traces.append(passage_trace(data.queries[q], text, weights, heading=title or None))
    return traces


def oracle_traces(data: Dataset, q_ids: list[str], weights: TermWeights) -> list[str]:
    """Per query, a trace from its best-graded positive passage's distinctive terms."""
    positives = [max(data.qrels[q].items(), key=lambda kv: kv[1])[0] for q in q_ids]
    return passage_traces(data, q_ids, positives, weights)


def forced_traces(embedder: Embedder, texts: list[str], tick: Callable[[str, int, int], None],
                  group: int = 16) -> list[str]:
    """Per query, the forced opening and the first sentence of the model's greedy continuation."""
    traces = []
    for i in range(0, len(texts), group):
        traces += [trace for _, trace in opened_traces(embedder, texts[i : i + group])]
        tick("forced-opening traces", min(i + group, len(texts)), len(texts))
    return traces


def mean_tokens(embedder: Embedder, traces: list[str]) -> float:
    """The mean length of ``traces`` in the model's tokens."""
    return float(np.mean([len(embedder.tokenizer(t)["input_ids"]) for t in traces]))


def sampled_variants(embedder: Embedder, score: Scorer, texts: list[str], sampling: Sampling, label: str,
                     tick: Callable[[str, int, int], None], forced: bool = False) -> tuple[list[Variant], np.ndarray]:
    """The mean and the per-query best (the headroom of selecting traces) of
    ``sampling.num_samples`` sampled traces a query, free or continuing :data:`OPENING`, and
    the row of their averaged vectors (no label needed); also the sampled vectors, (queries, samples, dim)."""
    samples = sampling.num_samples
    per_query: list[list[tuple[str, np.ndarray]]] = [[] for _ in texts]
    for i in range(0, len(texts), 4):
        if forced:
            indexed = opened_traces(embedder, texts[i : i + 4], sampling)
            vectors = embedder.embed_with_traces([texts[i + q] for q, _ in indexed], [t for _, t in indexed])
        else:
            traces = embedder.traces(texts[i : i + 4], sampling)
            indexed = [(t.query_index, t.text) for t in traces]
            vectors = embedder.vectors_for_ids([t.final_ids for t in traces])
        for (q, text), v in zip(indexed, vectors):
            per_query[i + q].append((text, v))
        tick(f"{label} traces", min(i + 4, len(texts)), len(texts))
    vectors = np.stack([np.stack([v for _, v in pq]) for pq in per_query])
    tokens = mean_tokens(embedder, [t for pq in per_query for t, _ in pq])
    mean, best = sampled_rows(score, vectors, tokens)
    return [Variant(f"{label}, {mean.name}", mean.ndcg, mean.recall, mean.mrr, tokens),
            Variant(f"{label}, {best.name}", best.ndcg, best.recall, best.mrr, tokens),
            score(f"{label}, the {samples} vectors averaged", _unit(vectors.mean(1)), tokens)], vectors


def sampled_rows(score: Scorer, vectors: np.ndarray, tokens: float) -> tuple[Variant, Variant]:
    """Per query, the mean and the best (by the label) of its sample vectors, (queries, samples, dim)."""
    samples = vectors.shape[1]
    by_sample = [score(f"sample {k}", vectors[:, k]) for k in range(samples)]
    stacked = {m: np.stack([getattr(v, m) for v in by_sample]) for m in ("ndcg", "recall", "mrr")}
    best, cols = stacked["ndcg"].argmax(0), np.arange(len(vectors))
    return (Variant(f"mean of {samples}", *(stacked[m].mean(0) for m in stacked), tokens),
            Variant(f"best of {samples} per query (selection headroom)", *(stacked[m][best, cols] for m in stacked),
                    tokens))


def borrowed_deviations(samples: np.ndarray, seed: int) -> np.ndarray:
    """The noise control (:func:`searchr3.research.spread.borrow_spread`) for ``samples``, (queries,
    samples, dim): each query keeps the mean of its own sample vectors and takes its deviations
    from another query's samples, in a random cycle seeded by ``seed``. Best-of-N over these is
    what choosing by the label gains from noise alone."""
    cycle = [int(q) for q in np.random.default_rng(seed).permutation(len(samples))]
    moved = borrow_spread(list(samples), cycle)
    return np.stack([moved[q] for q in range(len(samples))])


def most_confident(plain: np.ndarray, samples: np.ndarray, docs: np.ndarray, with_plain: bool = True) -> np.ndarray:
    """Per query, the vector among its plain one (``with_plain``) and its samples whose top
    passage leads the second by the widest score margin: a choice that needs no label."""
    candidates = np.concatenate([plain[:, None], samples], axis=1) if with_plain else samples
    top2 = -np.sort(-(candidates @ docs.T), axis=-1)[..., :2]
    pick = (top2[..., 0] - top2[..., 1]).argmax(1)
    return candidates[np.arange(len(candidates)), pick]


def run(embedder: Embedder, data: Dataset, samples: int, seed: int,
        tick: Callable[[str, int, int], None], examples: int = 30,
        forced_samples: int = 0) -> tuple[list[Variant], dict]:
    """Every variant on ``data`` (``samples`` free and ``forced_samples`` forced-opening sampled
    traces a query; 0: none); also, for the record, the first ``examples`` queries with
    their greedy, oracle, feedback and forced-opening traces and nDCG@10 plain and after the
    greedy trace."""
    doc_ids = list(data.corpus)
    q_ids = [q for q in data.queries if q in data.qrels]
    texts = [data.queries[q] for q in q_ids]
    group = 16
    docs = np.concatenate([embedder.embed_documents([data.doc_text(d) for d in doc_ids[i : i + group]])
                           for i in range(0, len(doc_ids), group)])
    tick("corpus", 1, 1)
    score = Scorer(data, docs, doc_ids, q_ids)
    plain_vectors = embedder.embed_queries(texts)
    plain = score("none (the plain query prompt)", plain_vectors)
    variants = [plain]
    weights = TermWeights([data.doc_text(d) for d in doc_ids])  # for the oracle's and feedback's traces
    oracle = oracle_traces(data, q_ids, weights)
    for name, traces in (("empty", [""] * len(texts)), ("the query repeated", texts),
                         ("oracle: the positive's distinctive terms", oracle)):
        variants.append(score(name, embedder.embed_with_traces(texts, traces), mean_tokens(embedder, traces)))
    greedy_traces, greedy_vectors = [], []
    for i in range(0, len(texts), group):
        for r in embedder.reason(texts[i : i + group]):
            greedy_traces.append(r.trace)
            greedy_vectors.append(r.vector)
        tick("greedy traces", min(i + group, len(texts)), len(texts))
    greedy_vectors = np.stack(greedy_vectors)
    greedy = score("greedy (the model's own)", greedy_vectors, mean_tokens(embedder, greedy_traces))
    variants.append(greedy)
    sampled: list[Variant] = []
    if samples:
        sampling = Sampling(do_sample=True, temperature=1.0, top_p=0.95, num_samples=samples, seed=seed)
        sampled, vectors = sampled_variants(embedder, score, texts, sampling, "sampled", tick)
        sampled.append(score("0.75 × plain + 0.25 × sampled, averaged",
                             _unit(0.75 * plain_vectors + 0.25 * _unit(vectors.mean(1))), sampled[0].tokens))
    variants += sampled
    for w in MIX_WEIGHTS:
        mixed = _unit(w * plain_vectors + (1 - w) * greedy_vectors)
        variants.append(score(f"{w:.2f} × plain + {1 - w:.2f} × greedy", mixed, greedy.tokens))
    top = np.argmax(plain_vectors @ docs.T, axis=1)
    probes = (("feedback", "feedback: the plain search's top passage's distinctive terms",
               passage_traces(data, q_ids, [doc_ids[i] for i in top], weights)),
              ("forced opening", f"forced opening '{OPENING}' + greedy", forced_traces(embedder, texts, tick, group)))
    probe_traces = {short: traces for short, _, traces in probes}
    for short, name, traces in probes:
        vectors, tokens = embedder.embed_with_traces(texts, traces), mean_tokens(embedder, traces)
        variants.append(score(name, vectors, tokens))
        variants.append(score(f"0.75 × plain + 0.25 × {short}", _unit(0.75 * plain_vectors + 0.25 * vectors), tokens))
    if forced_samples:
        sampling = Sampling(do_sample=True, temperature=1.0, top_p=0.95, num_samples=forced_samples, seed=seed)
        forced, vectors = sampled_variants(embedder, score, texts, sampling, "forced opening, sampled", tick,
                                           forced=True)
        tokens, averaged = forced[0].tokens, _unit(vectors.mean(1))
        for w in (0.75, 0.5):
            forced.append(score(f"{w:.2f} × plain + {1 - w:.2f} × forced opening, sampled, averaged",
                                _unit(w * plain_vectors + (1 - w) * averaged), tokens))
        control = sampled_rows(score, borrowed_deviations(vectors, seed), tokens)
        forced += [Variant(f"noise control: {v.name}, another query's deviations", v.ndcg, v.recall, v.mrr, tokens)
                   for v in control]
        confident = most_confident(plain_vectors, vectors, docs, with_plain=False)
        forced += [score(f"most confident of plain + {forced_samples} forced samples (widest top-1 margin)",
                         most_confident(plain_vectors, vectors, docs), tokens),
                   score("0.75 × plain + 0.25 × most confident forced sample",
                         _unit(0.75 * plain_vectors + 0.25 * confident), tokens)]
        variants += forced
    rows = zip(texts, greedy_traces, oracle, probe_traces["feedback"], probe_traces["forced opening"],
               plain.ndcg, greedy.ndcg)
    record = {"examples": [
        {"query": t, "greedy": g, "oracle": o, "feedback": f, "forced_opening": fo,
         "ndcg_plain": round(float(p), 4), "ndcg_greedy": round(float(r), 4)}
        for t, g, o, f, fo, p, r in list(rows)[:examples]
    ]}
    return variants, record


def markdown(variants: list[Variant], title: str) -> str:
    lines = [f"## {title}", "", "| " + " | ".join(COLUMNS) + " |", "|" + " --- |" * len(COLUMNS)]
    lines += ["| " + " | ".join(v.row(variants[0])) + " |" for v in variants]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m searchr3.eval.traces", description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, required=True, help="a BEIR-layout dev folder")
    ap.add_argument("--samples", type=int, default=8, help="sampled traces per query (0: none)")
    ap.add_argument("--forced-samples", type=int, default=0,
                    help="sampled continuations of the forced opening per query (0: none)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--limit", type=int, default=None, help="only the first N queries (the whole corpus)")
    ap.add_argument("--examples", type=int, default=30, help="queries whose traces the JSON record keeps")
    ap.add_argument("--out", type=Path, default=None, help="write the table (markdown) and examples (JSON) here")
    add_model_args(ap)
    args = ap.parse_args(argv)
    console = Console(stderr=True)
    try:
        data = load_beir(args.data)
        if args.limit:
            data.queries = dict(list(data.queries.items())[: args.limit])
        embedder = Embedder.load(model_config(args))
        started = time.perf_counter()
        with phase_progress(console) as tick:
            variants, record = run(embedder, data, args.samples, args.seed, tick, args.examples, args.forced_samples)
    except (SearchR3Error, ValueError) as exc:
        print_error(exc)
        return 2
    title = f"{args.data.name}: {len(variants[0].ndcg)} queries, {embedder.fingerprint}"
    table = Table(title=title)
    for col in COLUMNS:
        table.add_column(col, justify="left" if col == "trace" else "right")
    for v in variants:
        table.add_row(*v.row(variants[0]))
    Console().print(table)
    console.print(f"{time.perf_counter() - started:.0f} s")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(markdown(variants, title))
        record["fingerprint"] = embedder.fingerprint
        args.out.with_suffix(".json").write_text(json.dumps(record, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
