"""Vectors of the shipped default (document adapter; queries by the query adapter) for the probes:
1,500 training pairs (a seeded sample of data/pairs-all.jsonl) and the three dev sets."""

import json
import random
import sys
from pathlib import Path

import numpy as np

from searchr3.config import ModelConfig
from searchr3.embedding.embedder import Embedder
from searchr3.eval.beir import load_beir
from searchr3.eval.metrics import averages, per_query
from searchr3.retrieval.topk import top_k

OUT = Path("runs/inference-probes")
DEV_SETS = ("pyfaq", "perlfaq", "manxl")


def training_sample(n: int) -> list[dict]:
    """The first ``n`` pairs of ``data/pairs-all.jsonl`` shuffled with seed 0 (the probes' training pairs)."""
    rows = [json.loads(line) for line in open("data/pairs-all.jsonl")]
    random.Random(0).shuffle(rows)
    return rows[:n]


def passages(name: str) -> list[str]:
    """A dev set's passages (title and text), in corpus order: the order of the saved ``d`` rows."""
    data = load_beir(Path("data") / name)
    return [data.doc_text(i) for i in data.corpus]


def main(n: int = 1500) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    emb = Embedder.load(ModelConfig(adapter="default", query_adapter="default", precision="float32"))
    if not (OUT / "train.npz").exists():
        rows = training_sample(n)
        q = emb.embed_queries([r["query"] for r in rows])
        np.savez(OUT / "train.npz", q=q, d=emb.embed_documents([r["positive"] for r in rows]))
    for name in DEV_SETS:
        if (OUT / f"{name}.npz").exists():
            continue
        data = load_beir(Path("data") / name)
        dids, qids = list(data.corpus), list(data.queries)
        texts = [data.queries[i] for i in qids]
        np.savez(OUT / f"{name}.npz", d=emb.embed_documents([data.doc_text(i) for i in dids]),
                 q=emb.embed_queries(texts), docside=emb.document_side.embed_queries(texts),
                 dids=np.array(dids), qids=np.array(qids))


def unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def ndcg(name: str, queries: np.ndarray, docs: np.ndarray) -> dict:
    """nDCG@10, Recall@10, MRR@10 of one dev set ranked by cosine."""
    return averages(scored(name, unit(queries) @ unit(docs).T))


def scored(name: str, scores: np.ndarray) -> dict:
    """Per-query metrics of one dev set ranked by ``scores`` ``[queries, passages]``."""
    z, data = np.load(OUT / f"{name}.npz"), load_beir(Path("data") / name)
    dids, qids = list(z["dids"]), list(z["qids"])
    order = top_k(scores, 100)
    return per_query({q: [dids[j] for j in order[i]] for i, q in enumerate(qids)}, data.qrels)


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:]))
