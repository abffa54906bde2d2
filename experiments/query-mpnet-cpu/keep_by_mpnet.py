"""Keep the synthetic questions whose passage all-mpnet-base-v2 ranks first among the passages questions
were written for; write the 2,000-pair draw followed by the kept (question, passage) pairs.

    ./run python experiments/query-mpnet-cpu/keep_by_mpnet.py QUESTIONS.jsonl OUT_PAIRS.jsonl

The draw comes first and keeps its order, so the bank (each distinct positive once, in order of first
appearance) is the same as the 2,000-pair runs' and is read back from their ``OUT/bank``.
"""

import hashlib
import json
import re
import sys
from pathlib import Path

from searchr3.eval.sentence_encoders import load_sentence_encoder
from training.pairs import load_pairs
from training.query_bank import BankRows
from training.query_trainer import draw_pairs

QUOTED = re.compile(r'(?:asks?|wants? to)[^"“]*["“](.+?\?)["”]')


def clean(text: str) -> str | None:
    """The question itself ('What if the user asks: "How …?"' → 'How …?'), or None for no question."""
    if m := QUOTED.search(text):
        text = m.group(1)
    text = text.strip().strip('"').strip()
    if "great question" in text.lower() or not text.endswith("?") or len(text.split()) < 4:
        return None
    return text


def main(questions: Path, out: Path) -> None:
    pairs = draw_pairs(load_pairs("data/pairs-all.jsonl"), 2000, 0)
    texts = BankRows.of(pairs).texts
    written = [json.loads(line) for line in questions.read_text().splitlines()]
    n = max(r["row"] for r in written) + 1
    candidates = [(r["row"], q) for r in written if (q := clean(r["question"]))]
    print(f"{len(written)} generated, {len(candidates)} well-formed")
    mpnet = load_sentence_encoder("mpnet")
    passages = mpnet.encode(texts[:n], normalize_embeddings=True, batch_size=32)
    asked = mpnet.encode([q for _, q in candidates], normalize_embeddings=True, batch_size=64)
    first = (asked @ passages.T).argmax(1)
    kept = [(row, q) for (row, q), top in zip(candidates, first) if top == row]
    print(f"{len(kept)} kept: all-mpnet-base-v2 ranks their passage first among {n}")
    with out.open("w") as f:
        for p in pairs:
            f.write(json.dumps({"query": p.query, "positive": p.positive}) + "\n")
        for row, q in kept:
            f.write(json.dumps({"query": q, "positive": texts[row], "source": "synthetic"}) + "\n")
    print("sha256", hashlib.sha256(out.read_bytes()).hexdigest())


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
