"""A tiny stand-in for the default model, for tests of everything but the model's own quality.

A four-layer Llama with the default model's tokenizer and ``<|embed_token|>``, built in about a
second. Its attention is uniform (zero query and key weights) and its MLPs are off, so the hidden
state at the embed token is the mean of the text's token embeddings: a bag of words. Every token
gets a fixed sparse random vector (4 signs in 256 dimensions) chosen by its lower-cased text
without the leading space (so "Tea" and " tea" match); the tokens of the prompts themselves (the
template, "the", "a", punctuation) get zero. Texts that share words are close, texts that share
none are not, and every vector is the same on every build: rankings in tests are exact and make
sense to a reader.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import numpy as np
import torch

from searchr3.config import cache_dir
from searchr3.model.default import default_cache_key, load_default_tokenizer
from searchr3.model.embed_token import add_embed_token
from searchr3.model.prompts import EMBED_SUFFIX, frame

VERSION = "2"  # bump when the construction below changes
HIDDEN = 256
LAYERS = 4
ACTIVE = 4  # non-zero dimensions of each word's vector
SEED = 7741


def _word(token: str) -> str:
    return token.replace("\u0120", " ").replace("\u010a", "\n").strip().lower()


def build_tiny_model(directory: Path) -> Path:
    """Save the tiny model and its tokenizer as a Hugging Face folder at ``directory``."""
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = load_default_tokenizer()
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=HIDDEN, intermediate_size=32, num_hidden_layers=LAYERS,
        num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=8192, tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(SEED)
    model = LlamaForCausalLM(config)
    embed_id = add_embed_token(model, tokenizer)
    words = [_word(t) for t in tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))]
    prompt_ids: set[int] = set(tokenizer(EMBED_SUFFIX, add_special_tokens=False)["input_ids"])
    for role in ("query", "document", "reasoning"):
        f = frame(tokenizer, role)
        prompt_ids |= set(tokenizer(f.head + f.tail, add_special_tokens=False)["input_ids"])
    silent = {words[i] for i in prompt_ids} | {""}
    vocabulary = sorted(set(words))
    rng = np.random.default_rng(SEED)
    rows = np.zeros((len(vocabulary), HIDDEN), np.float32)
    for row in rows:  # sparse signs: two unrelated words rarely share a dimension
        row[rng.choice(HIDDEN, ACTIVE, replace=False)] = rng.choice((-1.0, 1.0), ACTIVE)
    row_of = {w: i for i, w in enumerate(vocabulary)}
    table = torch.from_numpy(rows[[row_of[w] for w in words]])
    table[[i for i, w in enumerate(words) if w in silent or not any(c.isalnum() for c in w)]] = 0
    table[embed_id] = 0
    with torch.no_grad():
        model.get_input_embeddings().weight.copy_(table)
        for layer in model.model.layers:
            layer.self_attn.q_proj.weight.zero_()
            layer.self_attn.k_proj.weight.zero_()
            layer.self_attn.v_proj.weight.copy_(torch.eye(HIDDEN))
            layer.self_attn.o_proj.weight.copy_(torch.eye(HIDDEN))
            layer.mlp.down_proj.weight.zero_()
    directory.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def tiny_model_dir() -> Path:
    """The tiny model's folder, built once into the searchr3 cache and reused by later runs
    (and by every subprocess a test starts with ``--model`` pointing at it)."""
    target = cache_dir() / "test-models" / f"tiny-v{VERSION}-{default_cache_key()}"
    if not (target / "config.json").is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=target.name + ".", dir=target.parent))
        build_tiny_model(tmp)
        try:
            tmp.rename(target)
        except OSError:  # built by another process in between: theirs stands
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def tiny_adapter(directory: Path) -> Path:
    """A stage-1 LoRA adapter for the tiny model (one training step on four pairs), exported under
    ``directory``: what RL starts from in tests."""
    from training.config import SFTConfig
    from training.pairs import Pair
    from training.sft_trainer import SFTTrainer

    pairs = [Pair(f"how do I {verb} a file", f"Use the {verb} command to {verb} a file.", (f"{verb} is a verb.",))
             for verb in ("copy", "move", "delete", "rename")]
    config = SFTConfig(model=str(tiny_model_dir()), steps=1, batch_size=4, chunk_size=8, negatives=1, lr=1e-3,
                       warmup=1, lora_r=4, lora_alpha=8, max_query_tokens=16, max_document_tokens=24, seed=3,
                       mixed_precision="no")
    trainer = SFTTrainer(config, pairs, directory)
    trainer.fit()
    return trainer.export()
