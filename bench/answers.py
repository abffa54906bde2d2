"""Do answers answer? On the answer dev set (:mod:`searchr3.eval.qa`: 250 questions about the
PostgreSQL and Bash manuals, each with the literal a correct answer holds), index the 34 pages
through the real ingest pipeline, retrieve k passages per question once as the chat does (the
search's best 16, the k with the best evidence kept: ``searchr3.answers.evidence.rerank``;
``--no-rerank``: the search's first k), and have each answer mode answer from the same passages.
Per mode:

- **holds the answer**: the answer contains one of the question's literals (a command, option,
  value, path or name), as a whole token;
- **its written part holds it**: the same, for a written answer without the sentences quoted
  beside it;
- **cites its passage**: the answer cites ``[n]`` a passage from the answer's page that holds it;
- **unsupported**: the answer states a number or name found in neither the question nor the
  passages shown (:func:`searchr3.answers.grounding.unsupported_terms`);
- seconds to the first piece of text, to the first written piece (not a quote) and to the whole
  answer (medians).

Modes: ``extract`` (quotes the best-matching sentences), ``smollm2`` (the 135 M search model writes,
checked) and the shipped answer models by name (``qwen2.5-coder-1.5b``, the default where the CPU
computes bfloat16 natively, and ``qwen2.5-coder-0.5b``, the default elsewhere, also ``qwen``), which
write from excerpts of the passages, checked, after the quoted sentences, as the chat runs them;
``--answer-model PATH`` adds another model (a folder or ``.gguf``). Also reports how often the answer
passage was retrieved, and the top-1 cosine of answered questions against 20 questions from other
domains (the low-relevance warning's threshold: the highest that flags at most :data:`MAX_FLAGGED` of
the questions answered correctly).

    python -m bench.answers [--modes extract,qwen2.5-coder-0.5b] [--sample 100] [--markdown docs/answers.md]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from searchr3 import Embedder, SearchOptions
from searchr3.answers.answer_model import QWEN_CODER_05B, SHIPPED, default_answer_model, load_answer_model
from searchr3.answers.answerers import ANSWER_TOKENS, EXCERPT_WORDS, ExtractiveAnswerer, GenerativeAnswerer
from searchr3.answers.evidence import search_to_answer
from searchr3.answers.grounding import cited, unsupported_terms
from searchr3.answers.local_chat import LocalChatModel
from searchr3.eval.qa import QAItem, contains_answer, holds_evidence, load_qa, qa_pages
from searchr3.index.vectors import IndexLocation, VectorIndex
from searchr3.ingestion import Ingestor
from searchr3.retrieval.searcher import Searcher

#: The warning may flag at most this share of the questions answered correctly.
MAX_FLAGGED = 0.02
DB = Path(__file__).resolve().parent.parent / "data" / "qa-index"
OFF_DOMAIN = [
    "What is the capital of France?", "How long should I boil an egg?", "Who won the football world cup in 2014?",
    "How do I repot an orchid?", "What is the best way to learn the violin?", "When did the Roman empire fall?",
    "How many moons does Jupiter have?", "What causes rainbows?", "How do I change a car tyre?",
    "Which wine goes with fish?", "How do I knit a scarf?", "What is the tallest mountain in Africa?",
    "How do vaccines work?", "What time zone is Tokyo in?", "How do I get rid of aphids on roses?",
    "Why is the sky blue?", "How much does a blue whale weigh?", "What is a good recipe for pancakes?",
    "How do I file my taxes?", "Who painted the Mona Lisa?",
]


def score(item: QAItem, answer: str, hits) -> dict:
    """The figures of one answer (notes in italics, which say what the check removed, excluded)."""
    body = "\n".join(line for line in answer.splitlines() if not line.startswith("_"))
    refs = cited(body, len(hits))
    written = "\n".join(line for line in body.splitlines() if not line.startswith(">"))  # (less the quotes)
    return {
        "holds": contains_answer(body, item),
        "written_holds": contains_answer(written, item),
        "cites": any(holds_evidence(hits[i - 1].text, hits[i - 1].metadata.get("source"), item) for i in refs),
        "unsupported": bool(unsupported_terms(body, [item.question] + [h.text for h in hits])),
        "words": len(body.split()),
    }


def timed(answerer, question: str, hits) -> tuple[str, float, float, float]:
    """The whole answer, seconds to its first non-blank piece, to its first written piece (not a
    quote) and to its end."""
    start, first, written, text = time.perf_counter(), None, None, ""
    for piece in answerer.stream(question, hits):
        if first is None and piece.strip():
            first = time.perf_counter() - start
        if written is None and piece.strip() and not piece.lstrip().startswith(">"):
            written = time.perf_counter() - start
        text += piece
    total = time.perf_counter() - start
    return text, first if first is not None else total, written if written is not None else total, total


def answerers(names: list[str], embedder: Embedder, extra: str | None) -> dict:
    """The answer modes to compare, by name (the answer models as the chat runs them: quotes first)."""
    out = {}
    for name in names:
        if name == "extract":
            out[name] = ExtractiveAnswerer()
        elif name == "smollm2":
            out[name] = GenerativeAnswerer(LocalChatModel(embedder=embedder, max_new_tokens=120))
        elif name in ("qwen", *SHIPPED):
            model = load_answer_model(QWEN_CODER_05B.name if name == "qwen" else name)
            chat = LocalChatModel(model=model, max_new_tokens=ANSWER_TOKENS)
            out[name] = GenerativeAnswerer(chat, excerpt_words=EXCERPT_WORDS, quotes_first=True)
        else:
            raise SystemExit(f"unknown mode {name!r}")
    if extra:
        chat = LocalChatModel(model=load_answer_model(extra), max_new_tokens=ANSWER_TOKENS)
        out[Path(extra).name] = GenerativeAnswerer(chat, excerpt_words=EXCERPT_WORDS, quotes_first=True)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.answers", description=__doc__.split("\n\n")[0])
    p.add_argument("--modes", default=f"extract,{default_answer_model()}",
                   help=f"comma-separated: extract, smollm2, {', '.join(SHIPPED)} (qwen: the 0.5 B)")
    p.add_argument("--answer-model", default=None, help="also a mode for this answer model (folder or .gguf)")
    p.add_argument("--sample", type=int, default=0, help="questions for the written modes (0: all)")
    p.add_argument("-k", type=int, default=4, help="passages per question")
    p.add_argument("--db", type=Path, default=DB, help="where the pages' index is kept between runs")
    p.add_argument("--markdown", type=Path, help="also write the table to this file")
    p.add_argument("--answers", type=Path, help="write every answer (JSON lines) to this file")
    p.add_argument("--no-rerank", action="store_true",
                   help="answer from the search's first k, not the chat's evidence re-ranking of its best 8")
    args = p.parse_args(argv)

    items = load_qa()
    pages = qa_pages(items)
    embedder = Embedder.shared()
    console = Console()
    index = VectorIndex(IndexLocation.embedded(args.db), embedder.fingerprint, embedder.dim)
    Ingestor(embedder, index).run(pages)
    searcher = Searcher(embedder, index)
    options = SearchOptions(k=args.k)
    modes = answerers([m for m in args.modes.split(",") if m], embedder, args.answer_model)
    step = max(1, len(items) // args.sample) if args.sample else 1
    sample = {item.id for item in items[::step][: args.sample or None]}
    results: dict[str, list[dict]] = {name: [] for name in modes}
    retrieved, top1 = [], {}
    ranks: dict[str, list[float]] = {"dense": [], "hybrid": []}  # reciprocal rank of the answer passage in the top 10
    log = args.answers.open("w") if args.answers else None
    with Progress(console=console) as bar:
        task = bar.add_task("questions", total=len(items))
        for item in items:
            if args.no_rerank:
                hits = searcher.search(item.question, options).hits
            else:  # as the chat does
                hits = search_to_answer(searcher, item.question, options).hits
            retrieved.append(any(holds_evidence(h.text, h.metadata.get("source"), item) for h in hits))
            top1[item.id] = max((h.dense_score for h in hits if h.dense_score is not None), default=0.0)
            for way in ranks:
                ten = searcher.search(item.question, SearchOptions(k=10, hybrid=way == "hybrid")).hits
                found = [i for i, h in enumerate(ten) if holds_evidence(h.text, h.metadata.get("source"), item)]
                ranks[way].append(1 / (found[0] + 1) if found else 0.0)
            for name, answerer in modes.items():
                if name != "extract" and item.id not in sample:
                    continue
                text, first, written, total = timed(answerer, item.question, hits)
                row = {**score(item, text, hits), "first": first, "written": written, "total": total, "id": item.id}
                results[name].append(row)
                if log:
                    log.write(json.dumps({"mode": name, **row, "question": item.question, "answer": text}) + "\n")
            bar.advance(task)
        off = [searcher.search(q, SearchOptions(k=1)).hits[0].dense_score for q in OFF_DOMAIN]
    if log:
        log.close()

    def recall(way: str, k: int) -> float:  # share of questions whose answer passage ranks in the top k
        return float(np.mean([r >= 1 / k for r in ranks[way]]))

    title = f"Answers on the answer dev set ({len(items)} questions, k={args.k}; written modes on {len(sample)})"
    table = Table(title=title)
    header = ["mode", "questions", "holds the answer", "its written part holds it", "cites its passage", "unsupported",
              "words (p50)", "first text s (p50)", "first written s (p50)", "whole s (p50)"]
    for col in header:
        table.add_column(col, justify="left" if col == "mode" else "right")
    lines = ["| " + " | ".join(header) + " |", "|---|" + "---:|" * (len(header) - 1)]
    for name, rows in results.items():
        share = {key: float(np.mean([r[key] for r in rows]))
                 for key in ("holds", "written_holds", "cites", "unsupported")}
        p50 = {key: statistics.median(r[key] for r in rows) for key in ("words", "first", "written", "total")}
        written = f"{share['written_holds']:.1%}" if name != "extract" else "–"
        cells = [name, str(len(rows)), f"{share['holds']:.1%}", written, f"{share['cites']:.1%}",
                 f"{share['unsupported']:.1%}", f"{p50['words']:.0f}", f"{p50['first']:.2f}",
                 f"{p50['written']:.2f}" if name != "extract" else "–", f"{p50['total']:.2f}"]
        table.add_row(*cells)
        lines.append("| " + " | ".join(cells) + " |")
    console.print(table)
    notes = [f"Answer passage among the {args.k} retrieved: {np.mean(retrieved):.1%} of {len(items)} questions."
             f" MRR@10 of the answer passage: dense {np.mean(ranks['dense']):.3f}, hybrid (dense + BM25, score"
             f" mix) {np.mean(ranks['hybrid']):.3f}; recall@4 / @10 dense {recall('dense', 4):.1%} /"
             f" {recall('dense', 10):.1%}, hybrid {recall('hybrid', 4):.1%} / {recall('hybrid', 10):.1%}."]
    answered = [top1[r["id"]] for name, rows in results.items() for r in rows if r["holds"]]
    if answered:
        answered_top = np.array(answered)
        sweep = [round(t, 2) for t in np.arange(0.30, 0.651, 0.01)]
        fits = [t for t in sweep if np.mean(answered_top < t) <= MAX_FLAGGED]
        notes.append(
            f"Top-1 cosine: correctly answered questions p2 {np.percentile(answered_top, 2):.3f}, p50"
            f" {np.median(answered_top):.3f}; other-domain questions p50 {np.median(off):.3f}, max {max(off):.3f}."
            + (f" The highest threshold flagging at most {MAX_FLAGGED:.0%} of the answered questions: {max(fits):.2f}"
               f" (flags {np.mean(np.array(off) < max(fits)):.0%} of the other-domain ones)." if fits else "")
        )
    for note in notes:
        console.print(note)
    if args.markdown:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text("\n".join(lines) + "\n\n" + "\n\n".join(notes) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
