"""nDCG@10 by language of the translated FAQ questions (query ids ``q-LANG-N``, ``as_beir.py --translated``),
one column per ``searchr3.eval --json`` file.

    ./run python experiments/query-faq-cpu/by_language.py NAME=RUN.json [NAME=RUN.json ...]
"""

import json
import sys
from collections import defaultdict


def main(named: list[str]) -> None:
    runs = {name: json.load(open(path)) for name, path in (arg.split("=", 1) for arg in named)}
    by_language = defaultdict(list)
    for qid in next(iter(runs.values()))["per_query"]["ndcg@10"]:
        by_language[qid.split("-")[1]].append(qid)
    print("| language | questions | " + " | ".join(runs) + " |")
    print("| --- | ---: | " + " | ".join("---:" for _ in runs) + " |")
    for language, qids in sorted(by_language.items(), key=lambda item: -len(item[1])):
        cells = (sum(run["per_query"]["ndcg@10"][q] for q in qids) / len(qids) for run in runs.values())
        print(f"| {language} | {len(qids)} | " + " | ".join(f"{c:.3f}" for c in cells) + " |")
    total = sum(len(qids) for qids in by_language.values())
    print(f"| all | {total} | " + " | ".join(f"{run['ndcg@10']:.3f}" for run in runs.values()) + " |")


if __name__ == "__main__":
    main(sys.argv[1:])
