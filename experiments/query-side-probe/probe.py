"""Probe (issue #13): train the query side only, against a frozen bank of document vectors.

The shipped adapter embeds the passages of N training pairs once (the bank, no gradient);
a trainable copy of it then learns to embed the pairs' queries so that each lands on its own
positive among all N passages (InfoNCE over the whole bank, temperature 0.05). Documents are
never re-embedded, so a dev set's passages keep the shipped adapter's vectors and only its
queries change: what a separate query adapter would give an index built with the default.

    ./run python experiments/query-side-probe/probe.py N BATCH STEPS LR MINUTES OUT [SKIP [INIT]]

N pairs after skipping SKIP of ``data/pairs-all.jsonl`` shuffled with seed 0; INIT: an adapter
folder this probe saved, to continue from. The dev sets' (``data/pyfaq`` …) passages are embedded by
the shipped adapter too, before any training; their queries are re-embedded at every evaluation.
"""

import json
import math
import random
import sys
import time

import torch
from peft import PeftModel, set_peft_model_state_dict
from safetensors.torch import load_file

from searchr3.config import ModelConfig
from searchr3.embedding.batching import pad_right, token_budget_batches
from searchr3.embedding.encoding import PromptEncoder
from searchr3.embedding.readout import embed_states
from searchr3.eval.beir import load_beir
from searchr3.eval.metrics import evaluate
from searchr3.model.loading import load_model

N, BATCH, STEPS, LR, MINUTES, OUT = (int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]),
                                     float(sys.argv[5]), sys.argv[6])
SKIP = int(sys.argv[7]) if len(sys.argv) > 7 else 0
INIT = sys.argv[8] if len(sys.argv) > 8 else None
TAU = 0.05
torch.manual_seed(0)
base = load_model(ModelConfig(adapter=None, precision="float32"))
tok, emb_id = base.tokenizer, base.embed_token_id
model = PeftModel.from_pretrained(base.model, ModelConfig(adapter="default").adapter_path(), is_trainable=True)
qenc, denc = PromptEncoder(tok, "query", 64), PromptEncoder(tok, "document", 192)


def vecs(seqs):
    out = [None] * len(seqs)
    for batch in token_budget_batches([len(s) for s in seqs], 4096, 64):
        ids, mask = pad_right([seqs[j] for j in batch], tok.pad_token_id)
        for j, row in zip(batch, embed_states(model, ids, mask, emb_id)):
            out[j] = row
    return torch.stack(out)


rows = [json.loads(line) for line in open("data/pairs-all.jsonl")]
random.Random(0).shuffle(rows)
rows = rows[SKIP : SKIP + N]
t = time.time()
model.eval()
with torch.no_grad():
    bank = vecs([p.ids for p in denc.encode([r["positive"] for r in rows])])
    dev = {}  # the dev sets' passages, embedded once as the app would (512 tokens); queries as the app reads them
    for name in ("pyfaq", "perlfaq", "manxl"):
        d = load_beir(f"data/{name}")
        doc_ids, q_ids = list(d.corpus), list(d.queries)
        docs = vecs([p.ids for p in PromptEncoder(tok, "document", 512).encode([d.doc_text(x) for x in doc_ids])])
        seqs = [p.ids for p in PromptEncoder(tok, "query", 256).encode([d.queries[q] for q in q_ids])]
        dev[name] = (docs, doc_ids, q_ids, seqs, d.qrels)
print(f"bank {tuple(bank.shape)} and dev passages in {time.time() - t:.0f}s", flush=True)
if INIT:
    set_peft_model_state_dict(model, load_file(f"{INIT}/adapter_model.safetensors"))
qids = [p.ids for p in qenc.encode([r["query"] for r in rows])]


def evaluate_dev(step):
    model.eval()
    res = {}
    with torch.no_grad():
        for name, (docs, doc_ids, q_ids, seqs, qrels) in dev.items():
            top = torch.topk(vecs(seqs) @ docs.T, 10).indices.numpy()
            rankings = {q: [doc_ids[j] for j in top[i]] for i, q in enumerate(q_ids)}
            res[name] = round(evaluate(rankings, qrels)["ndcg@10"], 4)
    model.train()
    print(json.dumps({"step": step, **res}), flush=True)


evaluate_dev(0)
params = [p for p in model.parameters() if p.requires_grad]
opt = torch.optim.AdamW(params, lr=LR, weight_decay=0.0)
sched = torch.optim.lr_scheduler.LambdaLR(
    opt, lambda s: min(1.0, (s + 1) / 5) * 0.5 * (1 + math.cos(math.pi * min(s, STEPS) / STEPS)))
model.train()
order, t0, rng = [], time.time(), random.Random(1)
for step in range(1, STEPS + 1):
    if len(order) < BATCH:
        more = list(range(N))
        rng.shuffle(more)
        order += more
    idx, order = order[:BATCH], order[BATCH:]
    logits = vecs([qids[i] for i in idx]) @ bank.T / TAU
    loss = torch.nn.functional.cross_entropy(logits, torch.tensor(idx))
    loss.backward()
    gn = float(torch.nn.utils.clip_grad_norm_(params, 1.0))
    opt.step()
    sched.step()
    opt.zero_grad(set_to_none=True)
    top1 = float((logits.argmax(1) == torch.tensor(idx)).float().mean())
    print(json.dumps({"step": step, "loss": round(loss.item(), 4), "top1": top1, "gn": round(gn, 3),
                      "s": round(time.time() - t0)}), flush=True)
    out_of_time = time.time() - t0 > MINUTES * 60
    if step % 40 == 0 or step == STEPS or out_of_time:
        evaluate_dev(step)
        model.save_pretrained(f"{OUT}/step{step}")
        if out_of_time:
            break
