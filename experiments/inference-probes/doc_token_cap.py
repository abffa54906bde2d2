"""nDCG@10 of the shipped default with the document token cap varied (stage 1 trained at 192)."""

import dataclasses
import sys
from pathlib import Path

from searchr3.config import ModelConfig
from searchr3.eval.beir import load_beir
from searchr3.eval.methods import dense_searchr3
from searchr3.eval.metrics import averages, per_query

caps = [int(c) for c in sys.argv[1].split(",")]
base = ModelConfig(adapter="default", query_adapter="default", precision="float32")
for name in sys.argv[2].split(","):
    data = load_beir(Path("data") / name)
    for cap in caps:
        run = dense_searchr3(data, dataclasses.replace(base, max_document_tokens=cap), False)
        a = averages(per_query(run.rankings, data.qrels))
        print(f"{name}\tcap={cap}\tndcg={a['ndcg@10']:.4f}\tr10={a['recall@10']:.4f}\tmrr={a['mrr@10']:.4f}")
