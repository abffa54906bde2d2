"""Concurrent chat users against the real server: ``python -m app`` on a fresh index of stdlib
docstrings, N users each asking questions through the OpenAI-compatible API (streamed), all at
once. Prints, per N: requests, errors, latency to the sources (retrieval done) and to the end
of the answer (p50/p95), and answers per minute.

    python -m bench.load [--users 1,5,20] [--questions 2] [--max-tokens 32] [--files 24]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bench.corpus import stdlib_passages
from bench.net import free_port, wait_for_http

QUESTIONS = [
    "How do I parse a JSON string into a dictionary?",
    "How can I run a shell command and capture its output?",
    "What does functools.lru_cache do?",
    "How do I join two paths?",
    "How do I count items in a list?",
    "How can I parse command-line options?",
    "How do I format a date as text?",
    "How do I write a log message to a file?",
    "How do I run two coroutines at the same time?",
    "How do I match a regular expression at the start of a string?",
]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def ask(api, question: str, max_tokens: int) -> tuple[float, float]:
    """Seconds to the first chunk (passages retrieved) and to the end of the streamed answer."""
    t0 = time.perf_counter()
    first = None
    stream = api.chat.completions.create(model="searchr3", messages=[{"role": "user", "content": question}],
                                         stream=True, max_tokens=max_tokens)
    for _ in stream:
        first = first or time.perf_counter() - t0
    return first or 0.0, time.perf_counter() - t0


def round_of(api, users: int, questions: int, max_tokens: int) -> dict:
    results: list[tuple[float, float]] = []
    errors: list[str] = []
    lock = threading.Lock()

    def user(u: int) -> None:
        for q in range(questions):
            try:
                got = ask(api, QUESTIONS[(u + q) % len(QUESTIONS)], max_tokens)
                with lock:
                    results.append(got)
            except Exception as exc:  # noqa: BLE001 (counted and shown)
                with lock:
                    errors.append(f"{type(exc).__name__}: {exc}"[:120])

    started = time.perf_counter()
    threads = [threading.Thread(target=user, args=(u,)) for u in range(users)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    firsts, totals = [r[0] for r in results], [r[1] for r in results]
    return {
        "users": users, "requests": users * questions, "errors": len(errors), "error_sample": errors[:1],
        "first_p50": statistics.median(firsts) if firsts else float("nan"),
        "first_p95": percentile(firsts, 0.95) if firsts else float("nan"),
        "total_p50": statistics.median(totals) if totals else float("nan"),
        "total_p95": percentile(totals, 0.95) if totals else float("nan"),
        "per_minute": 60 * len(results) / wall,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", default="1,5,20")
    ap.add_argument("--questions", type=int, default=2, help="questions per user, asked one after another")
    ap.add_argument("--max-tokens", type=int, default=32, help="answer length cap (written answers)")
    ap.add_argument("--answer", default="generate", choices=("extract", "generate"),
                    help="the server's answer mode: generate (the heavy path, default here) or extract (quotes)")
    ap.add_argument("--files", type=int, default=24, help="documents in the index (~200 tokens each)")
    args = ap.parse_args()
    import openai

    from searchr3 import Embedder

    console = Console(stderr=True)
    with tempfile.TemporaryDirectory(prefix="searchr3-load-") as tmp:
        docs, db = Path(tmp) / "docs", Path(tmp) / "db"
        docs.mkdir()
        for i, text in enumerate(stdlib_passages(Embedder.shared().tokenizer, args.files, 200)):
            (docs / f"doc{i:03d}.txt").write_text(text)
        subprocess.run([sys.executable, "-m", "ingest", str(docs), "--db", str(db)], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port = free_port()
        proc = subprocess.Popen([sys.executable, "-m", "app", "--db", str(db), "--port", str(port),
                                 "--answer", args.answer],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_for_http(f"http://127.0.0.1:{port}/v1/models", proc, timeout=300)
            api = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="loopback", max_retries=0,
                                timeout=900)
            ask(api, QUESTIONS[0], 4)  # warm-up
            rows = []
            for n in (int(x) for x in args.users.split(",")):
                with console.status(f"{n} concurrent users ..."):
                    rows.append(round_of(api, n, args.questions, args.max_tokens))
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    table = Table(title=f"python -m app, /v1/chat/completions streamed, answers ≤ {args.max_tokens} tokens,"
                        f" {args.questions} questions per user")
    for col in ("users", "requests", "errors", "sources p50 s", "sources p95 s", "answer p50 s", "answer p95 s",
                "answers/min"):
        table.add_column(col, justify="right")
    for r in rows:
        table.add_row(str(r["users"]), str(r["requests"]), str(r["errors"]), f"{r['first_p50']:.2f}",
                      f"{r['first_p95']:.2f}", f"{r['total_p50']:.2f}", f"{r['total_p95']:.2f}",
                      f"{r['per_minute']:.1f}")
    Console(width=130).print(table)
    for r in rows:
        if r["error_sample"]:
            print(f"errors at {r['users']} users, e.g. {r['error_sample'][0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
