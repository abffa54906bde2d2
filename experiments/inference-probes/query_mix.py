"""Query vectors of the query adapter mixed with the document model's own query vectors."""

import numpy as np
from vectors import DEV_SETS, OUT, ndcg, unit

for name in DEV_SETS:
    z = np.load(OUT / f"{name}.npz")
    for w in (0.0, 0.25, 0.5, 0.75, 1.0):
        a = ndcg(name, w * unit(z["docside"]) + (1 - w) * unit(z["q"]), z["d"])
        print(f"{name:8s} w_docside={w:.2f} ndcg {a['ndcg@10']:.4f} r10 {a['recall@10']:.4f} mrr {a['mrr@10']:.4f}")
