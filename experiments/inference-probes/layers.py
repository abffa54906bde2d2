"""Which layer's state at ``<|embed_token|>`` reads best: the shipped read-out (the last layer, after
the final norm) against earlier layers and mixes of the last few, on the dev sets.

    ./run python experiments/inference-probes/layers.py      # ~10 min: one pass over each dev set

Every layer's state goes through the model's final norm; passages through the document model,
queries through the query adapter's, as the shipped default reads them.
"""

from pathlib import Path

import numpy as np
import torch
from vectors import DEV_SETS, OUT, passages, scored, unit

from searchr3.config import ModelConfig
from searchr3.embedding.embedder import Embedder
from searchr3.eval.beir import load_beir
from searchr3.eval.metrics import averages
from searchr3.eval.paired import paired_difference

LAST = 8  # the last LAST layers are kept


def states(emb: Embedder, role: str, texts: list[str]) -> np.ndarray:
    """``[LAST, N, H]``: the normed state at the embed token after each of the last LAST layers."""
    model = emb.loaded.model
    decoder = model.get_decoder()
    out = []
    for prompt in emb._encoders[role].encode(texts):
        ids = torch.tensor([prompt.ids])
        at = int((ids[0] == emb.loaded.embed_token_id).nonzero().max())
        with torch.inference_mode():
            hidden = decoder(input_ids=ids, output_hidden_states=True, use_cache=False).hidden_states
        # hidden[-1] is already normed; the others are the residual stream after their layer
        rows = [decoder.norm(h[0, at]) for h in hidden[-LAST:-1]] + [hidden[-1][0, at]]
        out.append(torch.stack(rows).float().numpy())
    return np.stack(out, axis=1)


def shipped() -> Embedder:
    return Embedder.load(ModelConfig(adapter="default", query_adapter="default", precision="float32"))


def unit_states(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """The ``q`` and ``d`` states saved at ``path``, each layer's rows unit length."""
    z = np.load(path)
    return tuple(np.stack([unit(x) for x in z[k]]) for k in ("q", "d"))


def dev_states(name: str) -> tuple[np.ndarray, np.ndarray]:
    """A dev set's query and passage states ``[LAST, N, H]`` (unit rows), read once and saved."""
    target = OUT / f"{name}-layers.npz"
    if not target.exists():
        data, emb = load_beir(Path("data") / name), shipped()
        np.savez(target, d=states(emb, "document", passages(name)),
                 q=states(emb.query_embedder, "query", [data.queries[i] for i in data.queries]))
    return unit_states(target)


def main() -> None:
    table: dict[str, list[float]] = {}
    paired: list[str] = []
    for name in DEV_SETS:
        q, d = dev_states(name)
        shipped = np.load(OUT / f"{name}.npz")
        assert np.abs(unit(shipped["d"]) - d[-1]).max() < 1e-3, "the last layer is the shipped vector"
        variants = {f"layer L−{LAST - 1 - i}": (q[i], d[i]) for i in range(LAST)}
        for k in (2, 3, 4):
            variants[f"mean of the last {k}"] = (unit(q[-k:].sum(0)), unit(d[-k:].sum(0)))
        variants["0.75 × last + 0.25 × L−1"] = (unit(0.75 * q[-1] + 0.25 * q[-2]), unit(0.75 * d[-1] + 0.25 * d[-2]))
        variants["mean of the last 4, passages only"] = (q[-1], variants["mean of the last 4"][1])
        variants["mean of the last 4, queries only"] = (variants["mean of the last 4"][0], d[-1])
        per = {label: scored(name, qq @ dd.T) for label, (qq, dd) in variants.items()}
        for label, metrics in per.items():
            table.setdefault(label, []).append(averages(metrics)["ndcg@10"])
        for label in ("mean of the last 4", "mean of the last 4, passages only", "mean of the last 4, queries only"):
            p = paired_difference(per["layer L−0"]["ndcg@10"], per[label]["ndcg@10"])
            paired.append(f"| {name} | {label} | {p.delta:+.4f} | [{p.ci_low:+.4f}, {p.ci_high:+.4f}] | "
                          f"{p.wins} / {p.losses} / {p.ties} | {p.p_text} |")
    print("| read-out | " + " | ".join(DEV_SETS) + " |")
    print("| --- |" + " ---: |" * len(DEV_SETS))
    for label, vals in table.items():
        print(f"| {label} | " + " | ".join(f"{v:.4f}" for v in vals) + " |")
    print("\n| set | read-out | − shipped | 95% interval | wins / losses / ties | p |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    print("\n".join(paired))


if __name__ == "__main__":
    main()
