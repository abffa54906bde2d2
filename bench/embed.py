"""Embedding speed and fidelity by path: float32 reading every prompt whole (the reference),
bfloat16 reading every prompt whole, and the shipped fast path (bfloat16, each role's prompt
head read once: ``searchr3.embedding.prefix_cache``), on the same passages. Doc tokens/s by batch size,
the ratio to the reference, the mean and minimum cosine between each passage's vector and the
reference's, and (``--dev``) dev-set nDCG@10 per path.

    python -m bench.embed [--passages 64] [--tokens 128] [--repeats 3] [--dev data/pyfaq]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch
from rich.console import Console
from rich.table import Table

from bench.corpus import stdlib_passages
from searchr3 import Embedder, ModelConfig
from searchr3.model.precision import cpu_has_fast_bf16


def median_seconds(fn, repeats: int) -> float:
    """Median wall time of ``repeats`` calls of ``fn``."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def dev_ndcg(embedder: Embedder, folder: str) -> float:
    """nDCG@10 of plain dense search on a BEIR folder (one of our dev sets)."""
    from searchr3.eval.beir import load_beir
    from searchr3.eval.methods import dense_searchr3
    from searchr3.eval.metrics import evaluate

    data = load_beir(folder)
    run = dense_searchr3(data, embedder.config, reasoning=False, embedder=embedder)
    return evaluate(run.rankings, data.qrels)["ndcg@10"]


def passage_options(description: str) -> argparse.ArgumentParser:
    """The options every document-embedding benchmark takes: passages, their length, repeats, batch sizes."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--passages", type=int, default=64)
    ap.add_argument("--tokens", type=int, default=128, help="tokens per passage")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--batch-sizes", default="1,8,32")
    return ap


def main() -> None:
    ap = passage_options(__doc__.splitlines()[0])
    ap.add_argument("--paths", default="float32-whole,bfloat16-whole,bfloat16",
                    help="precisions; '-whole' reads every prompt whole; the first is the reference")
    ap.add_argument("--dev", default=None, help="a BEIR folder (e.g. data/pyfaq) for nDCG@10 per precision")
    args = ap.parse_args()

    console = Console(width=150)
    paths = args.paths.split(",")
    sizes = [int(b) for b in args.batch_sizes.split(",")]
    table = Table(title=f"searchr3 embedding by path (median of {args.repeats} runs)")
    for col in ("path", "batch size", "median s", "doc tokens/s", "× " + paths[0], "cos mean", "cos min"):
        table.add_column(col, justify="left" if col == "path" else "right")
    if args.dev:
        table.add_column(f"nDCG@10 {args.dev}", justify="right")

    reference: dict[int, float] = {}
    ref_vectors = None
    for path in paths:
        precision, _, whole = path.partition("-")
        # the default limits (the dev set is embedded as users would), long enough for the passages
        limit = max(ModelConfig.max_document_tokens, args.tokens + 16)
        base = ModelConfig(precision=precision, max_document_tokens=limit, reuse_prompt_heads=whole != "whole")
        embedder = Embedder.load(base)
        passages = stdlib_passages(embedder.tokenizer, args.passages, args.tokens)
        text_tokens = sum(len(embedder.tokenizer(p, add_special_tokens=False)["input_ids"]) for p in passages)
        vectors = embedder.embed_documents(passages)  # also the warm-up
        if ref_vectors is None:
            ref_vectors = vectors
            console.print(
                f"model {embedder.fingerprint} | torch {torch.__version__}, {torch.get_num_threads()} threads, "
                f"native CPU bf16: {cpu_has_fast_bf16()} | {args.passages} passages, {text_tokens} text tokens"
            )
        cos = (vectors * ref_vectors).sum(axis=1)
        ndcg = f"{dev_ndcg(embedder, args.dev):.4f}" if args.dev else None
        for i, bs in enumerate(sizes):
            embedder.config = base.with_(max_batch_size=bs, token_budget=max(bs * (args.tokens + 64), 4096))
            sec = median_seconds(lambda e=embedder, p=passages: e.embed_documents(p), args.repeats)
            reference.setdefault(bs, sec)
            row = [path if i == 0 else "", str(bs), f"{sec:.2f}", f"{text_tokens / sec:.0f}",
                   f"{reference[bs] / sec:.2f}", f"{np.mean(cos):.4f}", f"{np.min(cos):.4f}"]
            table.add_row(*row, *([ndcg if i == 0 else ""] if args.dev else []))
        del embedder
    console.print(table)


if __name__ == "__main__":
    main()
