"""Are answers grounded? On the Python FAQ dev set (each question has one known answer
passage), index the FAQ entries as files, ask every question through ``ChatService`` and
report, per answer mode:

- **cites answer**: share of answers citing the passage that holds the answer;
- **invents**: share of answers stating a number or name found in neither the question nor
  the passages the answer cites (:func:`searchr3.grounding.unsupported_terms`);
- **cites nothing**, answer words and median seconds per answer.

Modes: ``extract`` (the default: quotes), ``generate`` (the local model writes, support check
on) and ``generate-unchecked`` (as before this check existed). Also prints the top-1 score of
the dev questions against 20 questions from other domains, which sets the low-relevance
warning's threshold (``searchr3.service.LOW_RELEVANCE``: the highest that flags at most
:data:`MAX_DEV_FLAGGED` of the dev questions).

    python -m bench.answers [--generate 40] [--markdown docs/answers.md]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from searchr3 import Embedder, SearchOptions
from searchr3.answering import ExtractiveAnswerer, GenerativeAnswerer
from searchr3.chat import LocalChatModel
from searchr3.eval.beir import load_beir
from searchr3.grounding import cited, unsupported_terms
from searchr3.index import IndexLocation
from searchr3.service import LOW_RELEVANCE, ChatService

#: The warning may flag at most this share of answerable dev questions; the threshold is the
#: highest (in steps of 0.01) that keeps to it.
MAX_DEV_FLAGGED = 0.02
DEV = Path(__file__).resolve().parent.parent / "data" / "pyfaq"
OFF_DOMAIN = [
    "What is the capital of France?", "How long should I boil an egg?", "Who won the football world cup in 2014?",
    "How do I repot an orchid?", "What is the best way to learn the violin?", "When did the Roman empire fall?",
    "How many moons does Jupiter have?", "What causes rainbows?", "How do I change a car tyre?",
    "Which wine goes with fish?", "How do I knit a scarf?", "What is the tallest mountain in Africa?",
    "How do vaccines work?", "What time zone is Tokyo in?", "How do I get rid of aphids on roses?",
    "Why is the sky blue?", "How much does a blue whale weigh?", "What is a good recipe for pancakes?",
    "How do I file my taxes?", "Who painted the Mona Lisa?",
]


def file_name(doc_id: str) -> str:
    return doc_id.removeprefix("d:").replace("/", "__") + ".txt"


def score(answer: str, question: str, hits, relevant: str) -> dict:
    """Grounding figures of one answer (notes in italics, which say what was removed, excluded)."""
    body = "\n".join(line for line in answer.splitlines() if not line.startswith("_"))
    refs = cited(body, len(hits))
    sources = [question] + [hits[i - 1].text for i in refs]
    return {
        "cites_answer": any(hits[i - 1].metadata.get("file_name") == relevant for i in refs),
        "cites_nothing": not refs,
        "invents": bool(unsupported_terms(body, sources)),
        "words": len(body.split()),
    }


def run_mode(service: ChatService, questions: list[tuple[str, str]], bar: Progress, label: str) -> dict:
    rows, seconds, top = [], [], []
    task = bar.add_task(label, total=len(questions))
    for question, relevant in questions:
        start = time.perf_counter()
        (reply,) = [r for r in service.ask(question, SearchOptions(k=4)) if r.done]
        seconds.append(time.perf_counter() - start)
        if reply.error:
            raise RuntimeError(reply.error)
        rows.append(score(reply.answer, question, reply.passages, relevant))
        top.append(reply.passages[0].dense_score)
        bar.advance(task)
    share = {key: float(np.mean([r[key] for r in rows])) for key in ("cites_answer", "cites_nothing", "invents")}
    return {**share, "n": len(rows), "words": statistics.median(r["words"] for r in rows),
            "seconds": statistics.median(seconds), "top1": top}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.answers", description=__doc__.split("\n\n")[0])
    p.add_argument("--generate", type=int, default=40, help="questions for the generative modes (0: skip)")
    p.add_argument("--markdown", type=Path, help="also write the table to this file")
    args = p.parse_args(argv)

    data = load_beir(DEV)
    embedder = Embedder.shared()
    questions = [(data.queries[q], file_name(next(iter(rel)))) for q, rel in data.qrels.items()]
    with tempfile.TemporaryDirectory() as tmp:
        docs = Path(tmp) / "docs"
        docs.mkdir()
        for doc_id in data.corpus:
            (docs / file_name(doc_id)).write_text(data.doc_text(doc_id))
        service = ChatService(embedder, IndexLocation.embedded(Path(tmp) / "db"))
        console = Console()
        with Progress(console=console) as bar:
            summary = service.upload(sorted(docs.iterdir()), service.location.collection)
            assert summary.files_failed == 0, summary.failures
            results = {"extract": run_mode(service, questions, bar, "extract")}
            sample = questions[:: max(1, len(questions) // args.generate)][: args.generate] if args.generate else []
            if sample:
                chat = LocalChatModel(embedder=embedder, max_new_tokens=120)
                for label, checked in (("generate", True), ("generate-unchecked", False)):
                    service.answerer = GenerativeAnswerer(chat, checked=checked)
                    results[label] = run_mode(service, sample, bar, label)
                service.answerer = ExtractiveAnswerer()
                results["extract (same sample)"] = run_mode(service, sample, bar, "extract, same sample")
            off = [service.retrieve(q, SearchOptions(k=1)).hits[0].dense_score for q in OFF_DOMAIN]

    table = Table(title=f"Answers on the Python FAQ dev set ({len(questions)} questions, k=4)")
    for col in ("mode", "questions", "cites answer", "invents", "cites nothing", "words (p50)", "s/answer (p50)"):
        table.add_column(col, justify="left" if col == "mode" else "right")
    lines = ["| mode | questions | cites answer | invents | cites nothing | words (p50) | s/answer (p50) |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for mode, r in results.items():
        cells = [mode, str(r["n"]), f"{r['cites_answer']:.1%}", f"{r['invents']:.1%}", f"{r['cites_nothing']:.1%}",
                 f"{r['words']:.0f}", f"{r['seconds']:.2f}"]
        table.add_row(*cells)
        lines.append("| " + " | ".join(cells) + " |")
    console.print(table)
    dev_top = np.array(results["extract"]["top1"])
    pct = lambda a, q: float(np.percentile(a, q))  # noqa: E731
    relevance = (
        f"Top-1 cosine: dev questions p5 {pct(dev_top, 5):.3f}, p50 {pct(dev_top, 50):.3f}; other-domain questions"
        f" p50 {pct(off, 50):.3f}, p95 {pct(off, 95):.3f}, max {max(off):.3f}. Warning threshold {LOW_RELEVANCE:.2f}:"
        f" flags {np.mean(dev_top < LOW_RELEVANCE):.1%} of dev questions and"
        f" {np.mean(np.array(off) < LOW_RELEVANCE):.0%} of other-domain ones."
    )
    sweep = [round(t, 2) for t in np.arange(0.45, 0.651, 0.01)]
    fits = [t for t in sweep if np.mean(dev_top < t) <= MAX_DEV_FLAGGED]
    relevance += (
        f" Thresholds flagging at most {MAX_DEV_FLAGGED:.0%} of dev questions: up to {max(fits):.2f}"
        f" ({np.mean(dev_top < max(fits)):.1%} of dev, {np.mean(np.array(off) < max(fits)):.0%} of other-domain)."
        if fits else ""
    )
    console.print(relevance)
    if args.markdown:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text("\n".join(lines) + "\n\n" + relevance + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
