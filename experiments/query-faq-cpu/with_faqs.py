"""Write the 2,000-pair draw of the query-side runs followed by every real FAQ question → answer that
``training.faqs`` reads from the first eleven tools it covered (``TOOLS``: 385 pairs; it now reads 18).

    ./run python experiments/query-faq-cpu/with_faqs.py OUT_PAIRS.jsonl

The draw comes first and keeps its order, so the first 1,995 passages of the bank are those of the
2,000-pair runs (arms A–D in ``query-distill-cpu`` and ``query-mpnet-cpu``).
"""

import hashlib
import json
import sys
from pathlib import Path

from training.faqs import faq_pages, faq_pairs
from training.pairs import load_pairs
from training.query_trainer import draw_pairs

TOOLS = ("r-doc-html", "zsh-doc", "fetchmail", "xterm", "sqlite3-doc", "git-doc", "ffmpeg-doc", "mypy-doc", "nut-doc",
         "nano", "valgrind")


def main(out: Path) -> None:
    pairs = draw_pairs(load_pairs("data/pairs-all.jsonl"), 2000, 0)
    seen = {p.query.lower() for p in pairs}
    pages = {pkg: files for pkg, files in faq_pages().items() if pkg in TOOLS}
    faqs = [(q, a, src) for q, a, src in faq_pairs(pages) if q.lower() not in seen]
    with out.open("w") as f:
        for p in pairs:
            f.write(json.dumps({"query": p.query, "positive": p.positive}) + "\n")
        for q, a, src in faqs:
            f.write(json.dumps({"query": q, "positive": a, "source": src}) + "\n")
    print(f"{len(pairs)} drawn + {len(faqs)} FAQ pairs -> {out}")
    print("sha256", hashlib.sha256(out.read_bytes()).hexdigest())


if __name__ == "__main__":
    main(Path(sys.argv[1]))
