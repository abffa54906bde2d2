"""Write the FAQ pairs (``faqs`` source) as a BEIR folder, a diagnostic of how well a model already matches
these training questions to their answers (training data, never a dev set: nothing is chosen on it).
With ``--translated``, the queries are the translated questions (``faqs-translated``: query ids
``q-LANG-N``) against the same English answers.

    ./run python experiments/query-faq-cpu/as_beir.py OUT_DIR [--translated]
"""

import json
import sys
from pathlib import Path

from training.faqs import faq_pages, faq_pairs, translated_faq_pages, translated_faq_pairs


def main(out: Path, translated: bool) -> None:
    pairs = list(faq_pairs(faq_pages()))
    doc = {answer: f"d{i}" for i, (_, answer, _) in enumerate(pairs)}
    if translated:  # "faqs-de:weechat-doc:…" → q-de-N
        asked = [(f"q-{src.split(':')[0].removeprefix('faqs-')}-{k}", question, doc[answer])
                 for k, (question, answer, src) in enumerate(translated_faq_pairs(translated_faq_pages()))]
    else:
        asked = [(f"q{i}", question, doc[answer]) for i, (question, answer, _) in enumerate(pairs)]
    (out / "qrels").mkdir(parents=True, exist_ok=True)
    with open(out / "corpus.jsonl", "w") as c, open(out / "queries.jsonl", "w") as q:
        for i, (_, answer, src) in enumerate(pairs):
            c.write(json.dumps({"_id": f"d{i}", "title": "", "text": answer, "source": src}) + "\n")
        for qid, question, _ in asked:
            q.write(json.dumps({"_id": qid, "text": question}) + "\n")
    rows = "".join(f"{qid}\t{d}\t1\n" for qid, _, d in asked)
    (out / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n" + rows)
    print(f"{len(asked)} questions, {len(pairs)} answers -> {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1]), "--translated" in sys.argv[2:])
