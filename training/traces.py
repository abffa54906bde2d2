"""Trace targets for stage 1, kept only where they help: ``python -m training.traces IN OUT``.

For each pair the candidates are an oracle trace built from its positive passage (the
passage's distinctive terms the query lacks, :func:`searchr3.research.trace_targets.passage_trace`)
and, with ``--samples N``, N traces the model samples itself (``--opened``: N continuations of
the oracle's opening, :data:`searchr3.research.trace_targets.OPENING`, each cut to its first sentence,
so the samples have the oracle's term-list format); a sample that talks about "the embedding"
(a word of the reasoning prompt's instructions, not of the query) is not a candidate: it may
move the vector, but it is not analysis of the query; nor is an opening continued by no content
word ("… mentions the"). Each candidate is scored by
its *retrieval gain*: how much the positive's margin over the best other passage grows when
the query is read after that trace instead of plainly, among the passages of the pair's
block (its positives and hard negatives, as a contrastive batch sees them). The best
candidate becomes the pair's ``trace`` when its gain is positive; otherwise, and for a
``--plain-share`` of pairs chosen at random, the pair stays a plain query (no ``trace``), so
plain embedding keeps being trained. With ``--noise-floor`` a sample must also beat chance:
its gain must exceed the best gain of the same query's sample mean moved by another query's
sample deviations (spread of the same size that says nothing about this query); on the dev sets
about half of what choosing the best of 8 samples gains over plain is reachable that way
(docs/traces.md). Rounds of rejection sampling are repeated runs of this command with the
adapter trained on the previous round's output (``--adapter``).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from searchr3.cli import print_error
from searchr3.config import ModelConfig
from searchr3.embedding.embedder import Embedder
from searchr3.embedding.reasoning import Sampling
from searchr3.errors import SearchR3Error
from searchr3.progress import counting, phase_progress
from searchr3.research.spread import borrow_spread
from searchr3.research.trace_targets import OPENING, TermWeights, opened_traces, passage_trace
from searchr3.retrieval.conversation import content_terms

from .pairs import Pair, load_pairs


@dataclass(frozen=True)
class Choice:
    """The trace chosen for one pair (``None``: stay plain), its gain and where it came from."""

    trace: str | None
    gain: float
    source: str
    floor: float | None = None  # the best gain of the noise control (``noise_floor``), else None


def margins(queries: np.ndarray, docs: np.ndarray, positives: list[int]) -> np.ndarray:
    """For each query vector, its positive's cosine minus the best other document's."""
    sims = queries @ docs.T
    rows = np.arange(len(positives))
    own = sims[rows, positives]
    sims[rows, positives] = -np.inf
    return own - sims.max(axis=1)


def noise_floors(vectors: np.ndarray, owners: list[int], docs: np.ndarray, base: np.ndarray,
                 rng: random.Random) -> dict[int, float]:
    """Per query with two or more sample ``vectors`` (rows owned by ``owners[k]``), the best
    gain over ``base`` of the noise control (:func:`searchr3.research.spread.borrow_spread`: its samples'
    mean plus another query's deviations, in a random cycle through those queries; a lone query
    borrows its own, so nothing of it passes)."""
    rows: dict[int, list[int]] = {}
    for k, q in enumerate(owners):
        rows.setdefault(q, []).append(k)
    queries = [q for q, ks in rows.items() if len(ks) >= 2]
    rng.shuffle(queries)
    moved = borrow_spread({q: vectors[rows[q]] for q in queries}, queries)
    return {q: float((margins(v, docs, [q] * len(v)) - base[q]).max()) for q, v in moved.items()}


def about_the_prompt(trace: str, query: str) -> bool:
    """Whether a sampled trace talks about the embedding, which its query does not mention."""
    return "embed" in trace.lower() and "embed" not in query.lower()


def choose_traces(embedder: Embedder, pairs: list[Pair], weights: TermWeights, samples: int = 0,
                  negatives: int = 1, plain_share: float = 0.0, seed: int = 0, block: int = 32,
                  progress=None, opened: bool = False, oracle: bool = True,
                  noise_floor: bool = False) -> list[Choice]:
    """One :class:`Choice` per pair (see the module docstring; ``opened``: the samples continue
    :data:`OPENING`; ``oracle=False``: the samples are the only candidates; ``noise_floor``: a
    sample must beat :func:`noise_floors`, and a query with fewer than two samples keeps none). Plain queries are
    read by the model that writes and reads the traces (not a query adapter): the gain is over
    that model's own plain search."""
    if not oracle and not samples:
        raise SearchR3Error("without the oracle, traces need samples (--samples N)")
    if noise_floor and samples < 2:
        raise SearchR3Error("the noise floor needs two or more samples a query (--samples 2 or more)")
    embedder = embedder.document_side
    rng = random.Random(seed)
    plain = {i for i in range(len(pairs)) if rng.random() < plain_share}
    out: list[Choice] = []
    for start in range(0, len(pairs), block):
        part = pairs[start : start + block]
        docs = [p.positive for p in part] + [n for p in part for n in p.negatives[:negatives]]
        doc_vectors = embedder.embed_documents(docs)
        own = list(range(len(part)))
        queries = [p.query for p in part]
        base = margins(embedder.embed_queries(queries), doc_vectors, own)
        candidates: list[list[tuple[str, str]]] = [
            [("oracle", passage_trace(p.query, p.positive, weights))] if oracle else [] for p in part
        ]
        if samples:
            sampling = Sampling(do_sample=True, temperature=0.8, top_p=0.95, num_samples=samples, seed=seed + start)
            if opened:
                for q, text in opened_traces(embedder, queries, sampling):
                    if content_terms(text[len(OPENING):]) and not about_the_prompt(text, queries[q]):
                        candidates[q].append(("opened sample", text))
            else:
                for trace in embedder.traces(queries, sampling):
                    if trace.text.strip() and not about_the_prompt(trace.text, queries[trace.query_index]):
                        candidates[trace.query_index].append(("sample", trace.text))
        flat = [(i, kind, text) for i, row in enumerate(candidates) for kind, text in row]
        gains, floors = np.zeros(0), {}
        if flat:
            vectors = embedder.embed_with_traces([part[i].query for i, _, _ in flat], [t for _, _, t in flat])
            gains = margins(vectors, doc_vectors, [i for i, _, _ in flat]) - base[[i for i, _, _ in flat]]
            if noise_floor:
                sampled = [k for k, (_, kind, _) in enumerate(flat) if kind != "oracle"]
                floors = noise_floors(vectors[sampled], [flat[k][0] for k in sampled], doc_vectors, base, rng)
        best: dict[int, tuple[float, str, str | None]] = {}
        below: set[int] = set()
        for (i, kind, text), gain in zip(flat, gains):
            if noise_floor and kind != "oracle" and 0 < gain <= floors.get(i, np.inf):
                below.add(i)
                continue
            if i not in best or gain > best[i][0]:
                best[i] = (float(gain), kind, text)
        for i in own:
            gain, kind, text = best.get(i, (0.0, "no candidate", None))
            floor = floors.get(i)
            if start + i in plain:
                out.append(Choice(None, gain, "plain share", floor))
            elif gain > 0:
                out.append(Choice(text, gain, kind, floor))
            elif i in below:
                out.append(Choice(None, gain, "below the noise floor", floor))
            else:
                out.append(Choice(None, gain, "no gain" if text is not None else kind, floor))
        if progress is not None:
            progress(len(part))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m training.traces", description=__doc__.splitlines()[0])
    ap.add_argument("pairs", type=Path, help="a pairs file (python -m training.data)")
    ap.add_argument("out", type=Path, help="the same pairs, with a 'trace' where one helps")
    ap.add_argument("--adapter", default="default", help="the adapter that judges the traces (and samples them)")
    ap.add_argument("--samples", type=int, default=0,
                    help="model-sampled traces per query (besides the oracle unless --no-oracle)")
    ap.add_argument("--opened", action="store_true",
                    help="the samples continue the oracle's opening (its term-list format) instead of free text")
    ap.add_argument("--no-oracle", dest="oracle", action="store_false",
                    help="only the model's own samples are candidates, not the positive passage's terms")
    ap.add_argument("--noise-floor", action="store_true",
                    help="a sample must gain more than its query's sample mean moved by another query's spread")
    ap.add_argument("--negatives", type=int, default=1, help="hard negatives per pair in each block's passages")
    ap.add_argument("--plain-share", type=float, default=0.3, help="share of pairs kept plain whatever the gain")
    ap.add_argument("--block", type=int, default=32, help="pairs whose passages are ranked together")
    ap.add_argument("--limit", type=int, default=None, help="the first N pairs only")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    try:
        if not 0 <= args.plain_share <= 1:
            raise SearchR3Error(f"--plain-share must be between 0 and 1, not {args.plain_share}")
        pairs = load_pairs(args.pairs)[: args.limit]
        rows = [json.loads(line) for line in args.pairs.read_text(encoding="utf-8").splitlines() if line.strip()]
        embedder = Embedder.load(ModelConfig(adapter=None if args.adapter == "none" else args.adapter))
        weights = TermWeights([p.positive for p in pairs])
        with phase_progress() as tick:
            choices = choose_traces(embedder, pairs, weights, args.samples, args.negatives, args.plain_share,
                                    args.seed, args.block, counting(tick, "judging traces", len(pairs)),
                                    opened=args.opened, oracle=args.oracle, noise_floor=args.noise_floor)
    except SearchR3Error as exc:
        print_error(exc)
        return 2
    args.out.parent.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    with open(args.out, "w", encoding="utf-8") as f:
        for row, choice in zip(rows, choices):
            row = {k: v for k, v in row.items() if k not in ("trace", "trace_gain", "trace_source", "trace_floor")}
            if choice.trace is not None:
                row["trace"] = choice.trace
            row["trace_gain"], row["trace_source"] = round(choice.gain, 4), choice.source
            if choice.floor is not None:
                row["trace_floor"] = round(choice.floor, 4)
            counts[choice.source] = counts.get(choice.source, 0) + 1
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"{len(choices)} pairs -> {args.out} ({', '.join(f'{k}: {v}' for k, v in sorted(counts.items()))})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
