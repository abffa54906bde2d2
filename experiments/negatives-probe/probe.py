"""How hard are the builder's negatives for the shipped default: BM25-mined (the shipped pairs) or
mined by the teacher's cosine (``python -m training.data --mine teacher``)?

300 training pairs, negatives mined among a pool of 8,000 training positives (seeded draw from
``data/pairs-all.jsonl``), 6 candidates each, the MiniLM filter at margin 0.05, the first 3 kept;
then the shipped default (documents adapter; queries by the query adapter) scores each query's
positive against its kept negatives: how often it ranks the positive first, by what cosine margin,
and the InfoNCE loss over just those (τ 0.05)."""

import json
import random
import sys

import numpy as np

from searchr3.config import ModelConfig
from searchr3.embedding.embedder import Embedder
from searchr3.eval.sentence_encoders import load_sentence_encoder
from training.data import dense_negatives, drop_near, mine_hard_negatives, teacher_vectors


def main(n: int = 300, pool: int = 8000) -> None:
    rows = [json.loads(line) for line in open("data/pairs-all.jsonl")]
    random.Random(1).shuffle(rows)
    queries, positives = [r["query"] for r in rows[:pool]], [r["positive"] for r in rows[:pool]]
    q, p = teacher_vectors(load_sentence_encoder("minilm"), queries[:n], positives)
    kept = {
        "bm25": drop_near(q, p, mine_hard_negatives(queries[:n], positives, 6), 0.05),
        "teacher": drop_near(q, p, dense_negatives(q, p, positives, 6), 0.05),
    }
    kept = {name: [row[:3] for row in negs] for name, negs in kept.items()}
    emb = Embedder.load(ModelConfig(adapter="default", query_adapter="default", precision="float32"))
    need = sorted(set(range(n)) | {j for negs in kept.values() for row in negs for j in row})
    docs = emb.embed_documents([positives[j] for j in need])
    docs /= np.linalg.norm(docs, axis=1, keepdims=True)
    row_of = {j: k for k, j in enumerate(need)}
    qv = emb.embed_queries(queries[:n])
    qv /= np.linalg.norm(qv, axis=1, keepdims=True)
    for name, negs in kept.items():
        first, margin, loss = [], [], []
        for i, row in enumerate(negs):
            if not row:
                continue
            s = np.array([qv[i] @ docs[row_of[j]] for j in [i, *row]])
            first.append(s[0] > s[1:].max())
            margin.append(s[0] - s[1:].max())
            z = s / 0.05
            loss.append(np.log(np.exp(z - z.max()).sum()) + z.max() - z[0])
        print(f"| {name} | {np.mean([len(r) for r in negs]):.2f} | {len(first)} | {np.mean(first):.3f} "
              f"| {np.mean(margin):+.3f} | {np.mean(loss):.3f} |")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:]))
