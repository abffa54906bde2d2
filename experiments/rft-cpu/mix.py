"""The training file of the rejection-sampling round: what the command lines in README.md ran.

    ./run python experiments/rft-cpu/mix.py questions QUESTIONS.jsonl ALL.jsonl OUT_Q OUT_MIX
        1,024 real-question pairs (seed 7) and 1,024 other pairs of the mix (seed 11)
    ./run python experiments/rft-cpu/mix.py train TRACED.jsonl OUT_MIX TRAIN.jsonl
        the pairs given a sampled trace with a margin gain over 0.02, 350 other questions kept
        plain and 350 pairs of the mix, shuffled (seed 3)
"""

import json
import random
import sys

MIN_GAIN = 0.02
PLAIN_QUESTIONS = PLAIN_MIX = 350


def lines(path: str) -> list[str]:
    with open(path, encoding="utf-8") as f:
        return [line for line in f if line.strip()]


def questions(src: str, all_pairs: str, out_q: str, out_mix: str) -> None:
    rows = lines(src)
    random.Random(7).shuffle(rows)
    asked = {json.loads(line)["query"] for line in rows[:1024]}
    others = [line for line in lines(all_pairs) if json.loads(line)["query"] not in asked]
    random.Random(11).shuffle(others)
    with open(out_q, "w", encoding="utf-8") as f:
        f.writelines(rows[:1024])
    with open(out_mix, "w", encoding="utf-8") as f:
        f.writelines(others[:1024])
    print(f"1024 questions -> {out_q}, 1024 of {len(others)} other pairs -> {out_mix}")


def train(traced_path: str, mix_path: str, dest: str) -> None:
    rows = [json.loads(line) for line in lines(traced_path)]
    kept, plain = [], []
    for r in rows:
        if "trace" in r and r["trace_gain"] > MIN_GAIN:
            kept.append(r)
        else:
            plain.append({k: v for k, v in r.items() if k != "trace"})
    rng = random.Random(3)
    rng.shuffle(plain)
    mix = [json.loads(line) for line in lines(mix_path)][:PLAIN_MIX]
    out = kept + plain[:PLAIN_QUESTIONS] + mix
    rng.shuffle(out)
    with open(dest, "w", encoding="utf-8") as f:
        f.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in out)
    print(f"{len(kept)} traced + {PLAIN_QUESTIONS} plain questions + {len(mix)} mix pairs -> {dest}")


if __name__ == "__main__":
    {"questions": questions, "train": train}[sys.argv[1]](*sys.argv[2:])
