"""Embedding speed of the default model: document tokens/s by batch size, and one query
with and without reasoning. Prints a table of medians.

    python -m bench.embed [--passages 64] [--tokens 128] [--repeats 3] [--reasoning-tokens 64]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from rich.console import Console
from rich.table import Table

from bench.corpus import stdlib_passages
from searchr3 import Embedder, ModelConfig


def _median_seconds(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--passages", type=int, default=64)
    ap.add_argument("--tokens", type=int, default=128, help="tokens per passage")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--reasoning-tokens", type=int, default=64)
    ap.add_argument("--batch-sizes", default="1,8,32")
    args = ap.parse_args()

    console = Console(width=140)
    base = ModelConfig(max_document_tokens=args.tokens + 16, reasoning_tokens=args.reasoning_tokens)
    embedder = Embedder.load(base)
    passages = stdlib_passages(embedder.tokenizer, args.passages, args.tokens)
    text_tokens = sum(
        len(embedder.tokenizer(p, add_special_tokens=False)["input_ids"]) for p in passages
    )
    prompt_tokens = sum(len(p.ids) for p in embedder._encoders["document"].encode(passages))
    console.print(
        f"model {embedder.fingerprint} | torch {torch.__version__}, {torch.get_num_threads()} threads | "
        f"{args.passages} passages, {text_tokens} text tokens ({prompt_tokens} with prompt)"
    )

    table = Table(title=f"searchr3 embedding speed (median of {args.repeats} runs)")
    for col in ("workload", "batch size", "median s", "doc tokens/s", "prompt tokens/s"):
        table.add_column(col, justify="right" if col != "workload" else "left")
    embedder.embed_documents(passages[:4])  # warm-up
    for bs in [int(b) for b in args.batch_sizes.split(",")]:
        embedder.config = base.with_(max_batch_size=bs, token_budget=max(bs * (args.tokens + 64), 4096))
        sec = _median_seconds(lambda: embedder.embed_documents(passages), args.repeats)
        table.add_row("documents", str(bs), f"{sec:.2f}", f"{text_tokens / sec:.0f}", f"{prompt_tokens / sec:.0f}")
    embedder.config = base

    query = "How do I run a subprocess and capture its output?"
    sec = _median_seconds(lambda: embedder.embed_queries([query]), max(args.repeats, 5))
    table.add_row("1 query, no reasoning", "1", f"{sec:.3f}", "", "")
    traces = embedder.traces([query], max_new_tokens=args.reasoning_tokens)
    sec = _median_seconds(lambda: embedder.embed_queries([query], reasoning=True), args.repeats)
    table.add_row(
        f"1 query, reasoning ({len(traces[0].generated_ids)} new tokens)", "1", f"{sec:.3f}", "", ""
    )
    console.print(table)


if __name__ == "__main__":
    main()
