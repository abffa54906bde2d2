"""Dense or hybrid search by default? nDCG@10 of the shipped model's dense ranking, BM25's, and
their fusions on every dev set: pyfaq, perlfaq, manxl (retrieval dev sets) and qa (the answer dev
set's 250 questions over the 1,510 chunks of its 34 manual pages; relevant: the chunks of the
answer's page that hold its literal).

Fusions of the two top-100 rankings: reciprocal rank fusion (``1/(60+r_dense) + w/(60+r_bm25)``,
``w`` = 1 is plain RRF, smaller ``w`` trusts BM25 less) and a convex mix of min-max normalised
scores (``(1-a)·dense + a·bm25``). Rankings are computed once per set; each fusion re-ranks them.
The issue's rule: the default is the search that wins on most sets without losing more than 0.01
on any.

    python -m bench.fusion [--markdown docs/fusion.md]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from searchr3 import Embedder
from searchr3.eval.beir import Dataset
from searchr3.eval.build import build_manxl, build_perlfaq, build_pyfaq
from searchr3.eval.methods import DEPTH
from searchr3.eval.metrics import ndcg_at_k
from searchr3.eval.qa import holds_evidence, load_qa, qa_pages
from searchr3.index.bm25 import LexicalIndex
from searchr3.ingestion.chunking import Chunker
from searchr3.ingestion.loaders import load
from searchr3.retrieval.fusion import score_mix

WEIGHTS = (0.25, 0.5, 1.0)
MIXES = (0.1, 0.2, 0.3)


def qa_dataset(embedder: Embedder) -> Dataset:
    """The answer dev set as a BEIR set over its pages' chunks (as ingest cuts them)."""
    items = load_qa()
    chunker = Chunker(embedder.tokenizer)
    corpus, sources = {}, {}
    for page in qa_pages(items):
        for chunk in chunker.chunk(load(page)):
            cid = f"{page.name}#{chunk.position}"
            corpus[cid] = (chunk.heading or "", chunk.text)
            sources[cid] = str(page)
    queries = {item.id: item.question for item in items}
    qrels = {item.id: {cid: 1 for cid, (_, text) in corpus.items() if holds_evidence(text, sources[cid], item)}
             for item in items}
    return Dataset(corpus, queries, {q: rel for q, rel in qrels.items() if rel})


def rrf(dense: list[str], lexical: list[str], w: float, k: int = 60) -> list[str]:
    score: dict[str, float] = {}
    for rank, d in enumerate(dense, 1):
        score[d] = score.get(d, 0.0) + 1 / (k + rank)
    for rank, d in enumerate(lexical, 1):
        score[d] = score.get(d, 0.0) + w / (k + rank)
    return sorted(score, key=lambda d: -score[d])


def evaluate(data: Dataset, embedder: Embedder) -> dict[str, float]:
    """nDCG@10 of each ranking on ``data``."""
    doc_ids = list(data.corpus)
    texts = [data.doc_text(d) for d in doc_ids]
    docs = embedder.embed_documents(texts)
    q_ids = [q for q in data.queries if q in data.qrels]
    queries = embedder.embed_queries([data.queries[q] for q in q_ids])
    sims = queries @ docs.T
    lexical = LexicalIndex(doc_ids, texts)
    rows: dict[str, list[float]] = {}
    for i, q in enumerate(q_ids):
        top = np.argsort(-sims[i])[:DEPTH]
        dense = [doc_ids[j] for j in top]
        dense_scores = {doc_ids[j]: float(sims[i, j]) for j in top}
        found = lexical.search(data.queries[q], DEPTH)
        bm25 = [d for d, _ in found]
        bm25_scores = dict(found)
        rankings = {"dense": dense, "BM25": bm25}
        rankings |= {f"RRF w={w}": rrf(dense, bm25, w) for w in WEIGHTS}
        rankings |= {f"mix a={a}": [d for d, _ in score_mix(dense_scores, bm25_scores, a)] for a in MIXES}
        for name, ranking in rankings.items():
            rows.setdefault(name, []).append(ndcg_at_k(ranking, data.qrels[q], 10))
    return {name: float(np.mean(v)) for name, v in rows.items()}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.fusion", description=__doc__.split("\n\n")[0])
    p.add_argument("--markdown", type=Path, help="also write the table to this file")
    args = p.parse_args(argv)
    embedder = Embedder.shared()
    sets = {"pyfaq": build_pyfaq(), "perlfaq": build_perlfaq(), "manxl": build_manxl(), "qa": qa_dataset(embedder)}
    results = {name: evaluate(data, embedder) for name, data in sets.items()}
    names = list(next(iter(results.values())))
    table = Table(title="nDCG@10 by search (shipped default model)")
    header = ["search", *sets, "wins over dense", "worst vs dense"]
    for col in header:
        table.add_column(col, justify="left" if col == "search" else "right")
    lines = ["| " + " | ".join(header) + " |", "|---|" + "---:|" * (len(header) - 1)]
    for name in names:
        diffs = [results[s][name] - results[s]["dense"] for s in sets]
        cells = [name, *(f"{results[s][name]:.3f}" for s in sets), str(sum(d > 0 for d in diffs)),
                 f"{min(diffs):+.3f}"]
        table.add_row(*cells)
        lines.append("| " + " | ".join(cells) + " |")
    Console().print(table)
    if args.markdown:
        args.markdown.write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
