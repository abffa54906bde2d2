"""A weighting of the last layers' states learned on training pairs (never on the dev sets), then
scored on the dev sets: does ``layers.py``'s mix hold when the dev sets do not choose it?

    ./run python experiments/inference-probes/layer_weights.py [PAIRS]   # 1,000 pairs: 8 min once
    ./run python experiments/inference-probes/layer_weights.py synthetic  # 814 questions: 6 min once

The first PAIRS of ``vectors.py``'s seeded sample of ``data/pairs-all.jsonl``, or (``synthetic``) the
well-formed questions of ``query-mpnet-cpu/D/questions.jsonl`` that the 135 M model wrote for training
passages, each with its passage (the last 20% held out to watch the fit); per side, a softmax over
the last 8 layers' unit states, fitted with InfoNCE (temperature 0.05, every training passage a
candidate, 300 Adam steps).
"""

import json
import sys
from pathlib import Path

import numpy as np
import torch
from layers import LAST, dev_states, shipped, states, unit_states
from vectors import DEV_SETS, OUT, scored, training_sample

from searchr3.eval.metrics import averages
from searchr3.eval.paired import paired_difference
from training.pairs import load_pairs
from training.query_bank import BankRows
from training.query_trainer import draw_pairs

sys.path.insert(0, str(Path(__file__).parent.parent / "query-mpnet-cpu"))
from keep_by_mpnet import clean  # noqa: E402


def training_rows(source: str) -> list[dict]:
    """``{"query", "positive"}`` rows: the first N of the seeded sample, or the synthetic questions."""
    if source != "synthetic":
        return training_sample(int(source))
    texts = BankRows.of(draw_pairs(load_pairs("data/pairs-all.jsonl"), 2000, 0)).texts
    written = Path(__file__).parent.parent / "query-mpnet-cpu" / "D" / "questions.jsonl"
    asked = [(r["row"], clean(r["question"])) for r in map(json.loads, written.read_text().splitlines())]
    return [{"query": q, "positive": texts[row]} for row, q in asked if q]


def training_states(source: str) -> dict:
    target = OUT / f"train-layers-{source}.npz"
    if not target.exists():
        rows, emb = training_rows(source), shipped()
        np.savez(target, q=states(emb.query_embedder, "query", [r["query"] for r in rows]),
                 d=states(emb, "document", [r["positive"] for r in rows]))
    return dict(zip(("q", "d"), map(torch.tensor, unit_states(target))))


def mix(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.normalize((torch.softmax(w, 0)[:, None, None] * x).sum(0), dim=-1)


def fit(train: dict, steps: int = 300) -> tuple[torch.Tensor, torch.Tensor]:
    n = train["q"].shape[1]
    cut = int(0.8 * n)
    wq = torch.zeros(LAST)
    wq[-1] = 4.0  # start near the shipped read-out (softmax ≈ 0.89 on the last layer)
    wd = wq.clone()
    wq.requires_grad_(True)
    wd.requires_grad_(True)
    opt = torch.optim.Adam([wq, wd], lr=0.05)

    def loss_and_acc(lo: int, hi: int) -> tuple[torch.Tensor, float]:
        q, d = mix(train["q"][:, lo:hi], wq), mix(train["d"][:, lo:hi], wd)
        logits = q @ d.T / 0.05
        labels = torch.arange(hi - lo)
        return torch.nn.functional.cross_entropy(logits, labels), float((logits.argmax(1) == labels).float().mean())

    for step in range(steps + 1):
        loss, _ = loss_and_acc(0, cut)
        if step % 100 == 0:
            with torch.no_grad():
                _, held = loss_and_acc(cut, n)
            print(f"step {step}: train InfoNCE {loss.item():.4f}, held-out top-1 {held:.3f}")
        if step < steps:
            opt.zero_grad()
            loss.backward()
            opt.step()
    return wq.detach(), wd.detach()


def main(source: str = "1000") -> None:
    wq, wd = fit(training_states(source))
    print("query weights (L−7 … last):", " ".join(f"{v:.2f}" for v in torch.softmax(wq, 0)))
    print("passage weights:", " ".join(f"{v:.2f}" for v in torch.softmax(wd, 0)))
    print("\n| set | shipped | learned weighting | − shipped | 95% interval | wins / losses | p |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name in DEV_SETS:
        q, d = map(torch.tensor, dev_states(name))
        base = scored(name, (q[-1] @ d[-1].T).numpy())
        learned = scored(name, (mix(q, wq) @ mix(d, wd).T).numpy())
        p = paired_difference(base["ndcg@10"], learned["ndcg@10"])
        print(f"| {name} | {averages(base)['ndcg@10']:.4f} | {averages(learned)['ndcg@10']:.4f} | {p.delta:+.4f} | "
              f"[{p.ci_low:+.4f}, {p.ci_high:+.4f}] | {p.wins} / {p.losses} | {p.p_text} |")


if __name__ == "__main__":
    main(*sys.argv[1:])
