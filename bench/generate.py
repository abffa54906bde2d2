"""Generation speed at batch 1 with the shipped defaults: the reference path (float32, the
LoRA adapter applied through peft, as before), the merged bfloat16 model through ``generate``
(``--decode-precision same``), one sequence decoded with int8 weights alone by
``searchr3.model.fast_decode`` (``--decode-precision int8``), and the shipped default
(``Embedder.load``: adapter merged, auto precision, int8 drafts checked by float32). Prints new
tokens/s of reasoning traces, whether the greedy traces agree with the reference (and for how
many tokens), a reasoning query's p50 latency, and the time a plain chat question takes to a
complete answer (``searchr3.serving.service.ChatService`` over a small embedded index): written by the
model, and quoted from the passages (the shipped default).

``--dev FOLDER`` also prints that dev set's nDCG@10 with reasoning for the shipped model,
its queries reasoned one at a time (as users' are: the shipped decoder) and in batches of 8
(``generate`` over an int8 copy, as evaluation does), beside no reasoning.

``--drafts 2,4,6,8`` also times the shipped decoder with other draft lengths.

    python -m bench.generate [--queries 4] [--questions 2] [--skip-reference] [--drafts 4,6] [--dev data/pyfaq]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch
from rich.console import Console
from rich.table import Table

from bench.corpus import stdlib_passages
from searchr3 import Embedder, ModelConfig, SearchOptions
from searchr3.answers.answerers import ExtractiveAnswerer, GenerativeAnswerer
from searchr3.answers.local_chat import LocalChatModel
from searchr3.index.vectors import IndexLocation
from searchr3.model.adapter import apply_adapter
from searchr3.model.loading import load_model
from searchr3.serving.service import ChatService

QUERIES = [
    "How do I run a subprocess and capture its output?",
    "What is the difference between a list and a tuple?",
    "How can I parse command line arguments?",
    "How do I read a JSON file into a dictionary?",
    "Why does my regular expression match too much text?",
    "How do I sort a dictionary by value?",
]
QUESTIONS = ["How do I parse JSON text?", "What does functools.partial return?", "How do I join two paths?"]


def reference_embedder(config: ModelConfig) -> Embedder:
    """The previous inference path: float32 weights with the adapter unmerged (peft)."""
    bare = load_model(config.with_(adapter=None, precision="float32"))
    model, adapter_id = apply_adapter(bare.model, config.adapter_path(), bare.base_id)
    model.eval()
    return Embedder.from_model(model, bare.tokenizer, base_id=bare.base_id, adapter_id=adapter_id, config=config)


def agreeing(a: list[int], b: list[int]) -> int:
    """How many tokens two traces share before they first differ."""
    return next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def measure(embedder: Embedder, queries: list[str], questions: list[str], docs: Path, db: Path) -> dict:
    """Per-query traces, tokens/s, reasoning latency and chat answer time for one path."""
    embedder.traces(queries[:1], max_new_tokens=4)  # warm-up
    traces, rates, latencies = [], [], []
    for q in queries:
        (trace,), sec = timed(lambda q=q: embedder.traces([q]))
        traces.append(trace.generated_ids)
        rates.append(len(trace.generated_ids) / sec)
        latencies.append(timed(lambda q=q: embedder.reason([q]))[1])
    chat = LocalChatModel(embedder=embedder, max_new_tokens=200)  # a written answer, as before
    service = ChatService(embedder, IndexLocation.embedded(db), answerer=GenerativeAnswerer(chat))
    service.upload(sorted(docs.iterdir()), service.location.collection)

    def answer_times(answerer) -> list[tuple[float, int]]:
        service.answerer = answerer
        out = []
        for question in questions:
            reply, sec = timed(lambda question=question: list(service.ask(question, SearchOptions(k=3)))[-1])
            if reply.error:
                raise RuntimeError(reply.error)
            out.append((sec, len(reply.answer.split())))
        return out

    answers = answer_times(GenerativeAnswerer(chat))
    quoted = answer_times(ExtractiveAnswerer())  # the shipped default: quotes, no generation
    return {
        "traces": traces,
        "tokens_per_s": statistics.median(rates),
        "new_tokens": statistics.median(len(t) for t in traces),
        "reason_p50": statistics.median(latencies),
        "chat_s": statistics.median(a[0] for a in answers),
        "chat_words": statistics.median(a[1] for a in answers),
        "quoted_s": statistics.median(a[0] for a in quoted),
    }


def dev_reasoning(folder: str, config: ModelConfig, console: Console) -> None:
    """nDCG@10 on a dev set with queries reasoned one at a time and in batches."""
    from searchr3.eval.beir import load_beir
    from searchr3.eval.methods import dense_searchr3
    from searchr3.eval.metrics import evaluate

    data = load_beir(folder)
    table = Table(title=f"nDCG@10 on {folder} ({len(data.queries)} queries)")
    for col in ("queries embedded", "nDCG@10", "s per query"):
        table.add_column(col, justify="left" if col == "queries embedded" else "right")
    embedder = Embedder.load(config)
    for name, batch, reasoning in [("without reasoning", 8, False), ("reasoned in batches of 8 (generate)", 8, True),
                                   ("reasoned one at a time (shipped decoder)", 1, True)]:
        embedder.config = config.with_(max_batch_size=batch)
        run = dense_searchr3(data, embedder.config, reasoning=reasoning, embedder=embedder)
        score = evaluate(run.rankings, data.qrels)["ndcg@10"]
        table.add_row(name, f"{score:.4f}", f"{run.seconds_queries / len(data.queries):.2f}")
    console.print(table)


def draft_lengths(embedder: Embedder, queries: list[str], lengths: list[int], console: Console) -> None:
    """New tokens/s of the shipped (checked) decoder by how many int8 tokens it drafts per check."""
    decoder = embedder.loaded.sequence_decoder
    if decoder is None or not decoder.draft:
        console.print("no checked decoder here (decode precision is not 'checked')")
        return
    table = Table(title="checked decoding: int8 tokens drafted per float32 check")
    for col in ("drafted", "new tokens/s", "same text as drafted=" + str(decoder.draft)):
        table.add_column(col, justify="right")
    shipped = decoder.draft
    expected = [embedder.traces([q])[0].generated_ids for q in queries]
    for length in lengths:
        decoder.draft = length
        rates, same = [], 0
        for q, ids in zip(queries, expected):
            (trace,), sec = timed(lambda q=q: embedder.traces([q]))
            rates.append(len(trace.generated_ids) / sec)
            same += trace.generated_ids == ids
        table.add_row(str(length), f"{statistics.median(rates):.1f}", f"{same}/{len(queries)}")
    decoder.draft = shipped
    console.print(table)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--queries", type=int, default=4)
    ap.add_argument("--questions", type=int, default=2)
    ap.add_argument("--skip-reference", action="store_true", help="time the fast path only")
    ap.add_argument("--drafts", default="", help="comma-separated draft lengths to time the checked decoder with")
    ap.add_argument("--dev", default=None, help="a BEIR folder (e.g. data/pyfaq): nDCG@10 by how queries are reasoned")
    args = ap.parse_args()

    console = Console(width=200)
    config = ModelConfig()
    queries, questions = QUERIES[: args.queries], QUESTIONS[: args.questions]
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        docs = Path(tmp) / "docs"
        docs.mkdir()
        fast = Embedder.load(config)
        for i, text in enumerate(stdlib_passages(fast.tokenizer, 12, 200)):
            (docs / f"passage{i:02d}.txt").write_text(text)
        paths = {"shipped (int8 drafts, float32 checks)": lambda: fast}
        if not args.skip_reference:
            paths = {"reference": lambda: reference_embedder(config),
                     "bf16 generate": lambda: Embedder.load(config.with_(decode_precision="same")),
                     "int8 decoder alone": lambda: Embedder.load(config.with_(decode_precision="int8")), **paths}
        for name, build in paths.items():
            embedder = build()
            console.print(f"[bold]{name}[/]: {type(embedder.loaded.model).__name__}, {embedder.loaded.precision}")
            results[name] = measure(embedder, queries, questions, docs, Path(tmp) / f"db-{name}")

    console.print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; defaults: {config}")
    table = Table(title="searchr3 generation at batch 1 (medians of one run)")
    for col in ("path", "new tokens/s", "× reference", "trace tokens", "same greedy trace", "same first tokens",
                "reasoning query p50 s", "written answer s", "answer words", "quoted answer s (default)"):
        table.add_column(col, justify="left" if col == "path" else "right")
    ref = results.get("reference")
    for name, r in results.items():
        same = f"{sum(a == b for a, b in zip(r['traces'], ref['traces']))}/{len(queries)}" if ref else "-"
        first = f"{statistics.median(agreeing(a, b) for a, b in zip(r['traces'], ref['traces'])):.0f}" if ref else "-"
        ratio = f"{r['tokens_per_s'] / ref['tokens_per_s']:.1f}" if ref else "-"
        table.add_row(name, f"{r['tokens_per_s']:.1f}", ratio, f"{r['new_tokens']:.0f}", same, first,
                      f"{r['reason_p50']:.2f}", f"{r['chat_s']:.2f}", f"{r['chat_words']:.0f}", f"{r['quoted_s']:.2f}")
    console.print(table)
    if args.drafts:
        draft_lengths(fast, queries, [int(n) for n in args.drafts.split(",")], console)
    if args.dev:
        dev_reasoning(args.dev, config, console)


if __name__ == "__main__":
    main()
