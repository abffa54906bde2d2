"""Write the FAQ pairs (``faqs`` source) as a BEIR folder, a diagnostic of how well a model already matches
these training questions to their answers (training data, never a dev set: nothing is chosen on it).

    ./run python docs/training/query-faq-cpu/as_beir.py OUT_DIR
"""

import json
import sys
from pathlib import Path

from training.faqs import faq_pages, faq_pairs


def main(out: Path) -> None:
    pairs = list(faq_pairs(faq_pages()))
    (out / "qrels").mkdir(parents=True, exist_ok=True)
    with open(out / "corpus.jsonl", "w") as c, open(out / "queries.jsonl", "w") as q:
        for i, (question, answer, src) in enumerate(pairs):
            c.write(json.dumps({"_id": f"d{i}", "title": "", "text": answer, "source": src}) + "\n")
            q.write(json.dumps({"_id": f"q{i}", "text": question}) + "\n")
    rows = "".join(f"q{i}\td{i}\t1\n" for i in range(len(pairs)))
    (out / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n" + rows)
    print(f"{len(pairs)} questions -> {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
