"""Where the gap to MiniLM sits (passage length, lexical overlap) and whether a passage's "hub"
score, its similarity to a reference set of queries, is worth subtracting (CSLS-style).

Reference sets: the 1,500 training queries of ``train.npz``, the 1,000 synthetic training
questions of ``experiments/query-mpnet-cpu/D`` (embedded here once), and, as an upper bound a
product cannot have, the dev set's own other queries (leave-one-out)."""

import json
import re
import sys
from pathlib import Path

import numpy as np
from vectors import DEV_SETS, OUT, scored, unit

from searchr3.config import ModelConfig
from searchr3.embedding.embedder import Embedder
from searchr3.eval.beir import load_beir

SYNTHETIC = Path("experiments/query-mpnet-cpu/D/questions.jsonl")
RESULTS = Path("docs/results")
SHIPPED = "search-r3-sft--queries-by-the-query-adapter--shipped-default.json"
K, WEIGHTS = (5, 10), (0.25, 0.5)


def synthetic_bank() -> np.ndarray:
    path = OUT / "synthetic.npy"
    if not path.exists():
        texts = [json.loads(line)["question"] for line in SYNTHETIC.open()]
        emb = Embedder.load(ModelConfig(adapter="default", query_adapter="default", precision="float32"))
        np.save(path, emb.embed_queries(texts))
    return unit(np.load(path))


def ndcg_of(name: str, scores: np.ndarray) -> float:
    return float(np.mean(list(scored(name, scores)["ndcg@10"].values())))


def hub(bank_scores: np.ndarray, k: int) -> np.ndarray:
    """Each passage's mean similarity to its ``k`` nearest reference queries (rows of ``bank_scores``)."""
    return np.sort(bank_scores, 0)[-k:].mean(0)


def leave_one_out_hub(scores: np.ndarray, k: int) -> np.ndarray:
    """``hub`` over the other queries of the set: row ``i`` leaves query ``i`` out."""
    order = np.argsort(-scores, 0)[: k + 1]
    top = np.take_along_axis(scores, order, 0)
    out = np.repeat(top[:k].mean(0)[None], len(scores), 0)
    for j in range(scores.shape[1]):
        for r in range(k):
            out[order[r, j], j] = (top[:k, j].sum() - top[r, j] + top[k, j]) / k
    return out


def gap_table(name: str) -> None:
    data, z = load_beir(Path("data") / name), np.load(OUT / f"{name}.npz")
    ours = json.loads((RESULTS / name / SHIPPED).read_text())["per_query"]["ndcg@10"]
    mini = json.loads((RESULTS / name / "all-minilm-l6-v2.json").read_text())["per_query"]["ndcg@10"]
    rows = []
    for q in z["qids"]:
        text = data.doc_text(next(iter(data.qrels[q])))
        words = set(re.findall(r"\w+", data.queries[q].lower()))
        overlap = len(words & set(re.findall(r"\w+", text.lower()))) / max(1, len(words))
        rows.append((len(text.split()), overlap, ours[q], mini[q]))
    rows = np.array(rows)
    splits = (("positive's words", 0, (0, 60, 120, 240, 10**6)), ("query words in it", 1, (0, 1 / 3, 2 / 3, 1.01)))
    for label, col, edges in splits:
        for lo, hi in zip(edges, edges[1:]):
            sel = rows[(rows[:, col] >= lo) & (rows[:, col] < hi)]
            if len(sel):
                ours, theirs = sel[:, 2].mean(), sel[:, 3].mean()
                cells = f"{len(sel)} | {ours:.3f} | {theirs:.3f} | {ours - theirs:+.3f}"
                print(f"| {name} | {label} {lo:.3g}–{hi:.3g} | {cells} |")


def main() -> None:
    train = unit(np.load(OUT / "train.npz")["q"])
    synth = synthetic_bank()
    for name in DEV_SETS:
        gap_table(name)
    for name in DEV_SETS:
        z = np.load(OUT / f"{name}.npz")
        q, d = unit(z["q"]), unit(z["d"])
        s = q @ d.T
        words = np.log([len(load_beir(Path("data") / name).doc_text(i).split()) + 1 for i in z["dids"]])
        print(f"{name}: corr(log passage words, mean similarity to the set's queries) "
              f"{np.corrcoef(words, s.mean(0))[0, 1]:+.2f}; plain {ndcg_of(name, s):.4f}")
        for k in K:
            for w in WEIGHTS:
                cells = [ndcg_of(name, s - w * hub(bank @ d.T, k)[None]) for bank in (train, synth)]
                cells.append(ndcg_of(name, s - w * leave_one_out_hub(s, k)))
                print(f"| {name} | k={k}, w={w} | " + " | ".join(f"{c:.4f}" for c in cells) + " |")


if __name__ == "__main__":
    sys.exit(main())
