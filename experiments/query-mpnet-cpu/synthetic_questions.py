"""Synthetic questions for the bank passages of the 2,000-pair draw: SmolLM2-135M-Instruct, no adapter, greedy.

    ./run python experiments/query-mpnet-cpu/synthetic_questions.py OUT.jsonl [FIRST_N_PASSAGES]

Writes ``{"row", "question"}`` per passage (``row``: its place in the bank), 16 passages a batch;
a second run goes on after the rows already written.
"""

import json
import sys
import time
from pathlib import Path

import torch

from searchr3.config import ModelConfig
from searchr3.model.loading import load_model
from training.pairs import load_pairs
from training.query_bank import BankRows
from training.query_trainer import draw_pairs

ASK = ("Write one question that a user might ask and that this passage answers. "
       "Reply with the question only.")


def write_questions(texts: list[str], out: Path, loaded, label: str = "") -> None:
    """One greedy question per text appended to ``out`` as ``{"row", "question"}``, 16 texts a batch,
    after the rows ``out`` already holds; ``loaded``: a ``LoadedModel``."""
    done = {json.loads(line)["row"] for line in out.read_text().splitlines()} if out.is_file() else set()
    tok, model = loaded.tokenizer, loaded.model.eval()
    tok.padding_side = "left"

    def prompt(passage: str) -> str:
        words = passage.split()
        text = " ".join(words[:80]) + (" …" if len(words) > 80 else "")
        content = f"Here is a passage from software documentation:\n\n{text}\n\n{ASK}"
        return tok.apply_chat_template([{"role": "user", "content": content}], tokenize=False,
                                       add_generation_prompt=True)

    todo, t0 = [i for i in range(len(texts)) if i not in done], time.time()
    with out.open("a") as f:
        for start in range(0, len(todo), 16):
            rows = todo[start : start + 16]
            enc = tok([prompt(texts[i]) for i in rows], return_tensors="pt", padding=True, add_special_tokens=False)
            with torch.inference_mode():
                ids = model.generate(**enc, max_new_tokens=32, do_sample=False, pad_token_id=tok.pad_token_id)
            for i, new in zip(rows, ids[:, enc["input_ids"].shape[1] :]):
                question = tok.decode(new, skip_special_tokens=True).strip().split("\n")[0].strip()
                f.write(json.dumps({"row": i, "question": question}) + "\n")
            f.flush()
            print(f"{label}{start + len(rows)}/{len(todo)} {time.time() - t0:.0f}s", flush=True)


def main(out: Path, limit: int | None) -> None:
    texts = BankRows.of(draw_pairs(load_pairs("data/pairs-all.jsonl"), 2000, 0)).texts[:limit]
    write_questions(texts, out, load_model(ModelConfig(adapter=None, query_adapter=None, precision="float32")))


if __name__ == "__main__":
    main(Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else None)
