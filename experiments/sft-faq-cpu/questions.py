"""Keep the pairs of a pairs file whose query is a real question (source ends in '#question'), shuffled.

    ./run python experiments/sft-faq-cpu/questions.py data/pairs-all-faqs.jsonl OUT.jsonl
"""

import json
import random
import sys


def main(src: str, dest: str, seed: int = 0) -> None:
    with open(src, encoding="utf-8") as f:
        rows = [line for line in f if json.loads(line)["source"].endswith("#question")]
    random.Random(seed).shuffle(rows)
    with open(dest, "w", encoding="utf-8") as f:
        f.writelines(rows)
    print(f"{len(rows)} pairs -> {dest}")


if __name__ == "__main__":
    main(*sys.argv[1:3])
