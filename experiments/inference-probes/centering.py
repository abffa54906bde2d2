"""Centering and dropping top principal directions, estimated on training vectors only."""

import functools

import numpy as np
from vectors import DEV_SETS, OUT, ndcg

t = np.load(OUT / "train.npz")
mq, md = t["q"].mean(0), t["d"].mean(0)
joint = np.concatenate([t["q"], t["d"]])
mall = joint.mean(0)
_, _, vt = np.linalg.svd(joint - mall, full_matrices=False)


def drop(v: np.ndarray, k: int) -> np.ndarray:
    v = v - mall
    return v - (v @ vt[:k].T) @ vt[:k]


VARIANTS = {
    "raw": lambda q, d: (q, d),
    "center both by doc mean": lambda q, d: (q - md, d - md),
    "center each by own mean": lambda q, d: (q - mq, d - md),
    "center by joint mean": lambda q, d: (q - mall, d - mall),
}
for k in (1, 2, 4):
    VARIANTS[f"joint mean, drop {k} PC"] = functools.partial(lambda q, d, k: (drop(q, k), drop(d, k)), k=k)
for name in DEV_SETS:
    z = np.load(OUT / f"{name}.npz")
    for label, fn in VARIANTS.items():
        a = ndcg(name, *fn(z["q"], z["d"]))
        print(f"{name:8s} {label:28s} ndcg {a['ndcg@10']:.4f} r10 {a['recall@10']:.4f} mrr {a['mrr@10']:.4f}")
