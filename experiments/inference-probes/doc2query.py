"""Passages expanded with a question the model writes for them (doc2query), scored on the dev sets.

    ./run python experiments/inference-probes/doc2query.py [generate|score]

``generate`` writes one greedy question per dev-set passage (SmolLM2-135M-Instruct, no adapter, the
prompt of ``query-mpnet-cpu/synthetic_questions.py``) to ``runs/inference-probes/questions-SET.jsonl``
(resumable), then embeds them with the shipped default; ``score`` prints nDCG@10 of the variants.
The questions are made from passages only (never from the dev queries), as an index would make them.
"""

import json
import sys
from pathlib import Path

import numpy as np
from vectors import DEV_SETS, OUT, passages, scored, unit

from searchr3.config import ModelConfig
from searchr3.embedding.embedder import Embedder
from searchr3.eval.metrics import averages
from searchr3.model.loading import load_model

sys.path.insert(0, str(Path(__file__).parent.parent / "query-mpnet-cpu"))
from synthetic_questions import write_questions  # noqa: E402


def questions(name: str) -> list[str]:
    rows = sorted((json.loads(line) for line in (OUT / f"questions-{name}.jsonl").open()), key=lambda r: r["row"])
    return [r["question"] for r in rows]


def well_formed(question: str) -> bool:
    """A question that ends as one and is not about "this passage" or "this question"."""
    low = question.lower()
    return question.endswith("?") and not any(k in low for k in ("answer to", "this passage", "this question"))


def embed(name: str, emb: Embedder) -> None:
    target = OUT / f"{name}-d2q.npz"
    if target.exists():
        return
    qs, texts = questions(name), passages(name)
    np.savez(target, as_query=emb.embed_queries(qs), as_doc=emb.embed_documents(qs),
             expanded=emb.embed_documents([f"{q}\n{t}" for q, t in zip(qs, texts)]))


def score() -> None:
    print("| variant | " + " | ".join(DEV_SETS) + " |")
    print("| --- |" + " ---: |" * len(DEV_SETS))
    rows: dict[str, list[float]] = {}
    for name in DEV_SETS:
        z, x = np.load(OUT / f"{name}.npz"), np.load(OUT / f"{name}-d2q.npz")
        q, d, expanded = unit(z["q"]), unit(z["d"]), unit(x["expanded"])
        base, with_question, asked = q @ d.T, q @ expanded.T, q @ unit(x["as_query"]).T
        variants = {
            "passage (shipped)": base,
            "question + passage, one vector": with_question,
            "question alone (document side)": q @ unit(x["as_doc"]).T,
            "question alone (query side)": asked,
        }
        for w in (0.25, 0.5):
            variants[f"passage + {w} × question (query side)"] = base + w * asked
            variants[f"passage + {w} × question + passage"] = base + w * with_question
        kept = np.array([well_formed(t) for t in questions(name)])
        print(f"{name}: {kept.sum()} of {len(kept)} questions well-formed")
        well = "question + passage where the question is well-formed, else passage"
        variants[well] = np.where(kept, with_question, base)  # kept: per passage, so per column
        variants["max(passage, question (query side))"] = np.maximum(base, asked)
        for label, s in variants.items():
            rows.setdefault(label, []).append(averages(scored(name, s))["ndcg@10"])
    for label, vals in rows.items():
        print(f"| {label} | " + " | ".join(f"{v:.4f}" for v in vals) + " |")


def main(step: str) -> None:
    if step == "generate":
        loaded = load_model(ModelConfig(adapter=None, query_adapter=None, precision="float32"))
        for name in DEV_SETS:
            write_questions(passages(name), OUT / f"questions-{name}.jsonl", loaded, f"{name} ")
        del loaded
        emb = Embedder.load(ModelConfig(adapter="default", query_adapter="default", precision="float32"))
        for name in DEV_SETS:
            embed(name, emb)
    else:
        score()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "score")
