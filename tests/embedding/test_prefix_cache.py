"""Prompt heads read once (``searchr3.embedding.prefix_cache``): the same vectors as the whole prompt."""

import warnings

import numpy as np
import pytest
import torch

from searchr3 import Embedder, ModelConfig
from searchr3.embedding.batching import pad_right
from searchr3.embedding.prefix_cache import PromptPrefixes
from searchr3.embedding.readout import embed_states

pytestmark = pytest.mark.model

DOCS = [
    "The json module encodes Python objects as JSON text and decodes JSON text back into dicts and lists.",
    "subprocess.run starts a child process, waits for it, and can capture its standard output and error. " * 3,
    "x",
]
QUERIES = ["How do I read a JSON file?", "capture output of a child process"]


def whole_prompt_vectors(embedder: Embedder, sequences: list[list[int]]) -> np.ndarray:
    """Vectors read from the first token of each prompt, one prompt at a time (no stored head)."""
    rows = []
    with torch.inference_mode():
        for seq in sequences:
            ids, mask = pad_right([seq], embedder._pad_id)
            rows.append(embed_states(embedder.loaded.model, ids, mask, embedder.loaded.embed_token_id)[0].numpy())
    return np.stack(rows)


def prompts(embedder: Embedder) -> list[list[int]]:
    docs = [p.ids for p in embedder._encoders["document"].encode(DOCS)]
    queries = [p.ids for p in embedder._encoders["query"].encode(QUERIES)]
    return docs + queries


def test_float32_vectors_equal_the_whole_prompts(trained):
    assert trained._prefixes is not None  # loaded for inference: heads are stored
    sequences = prompts(trained)
    (reasoned,) = trained.traces(QUERIES[:1], max_new_tokens=8)
    sequences.append(reasoned.final_ids)
    with warnings.catch_warnings():  # the cache goes by the name this transformers takes, not a deprecated one
        warnings.filterwarnings("error", message=".*past_key_values", category=FutureWarning)
        mixed = trained.vectors_for_ids(sequences)  # documents, queries and a trace in one call
    np.testing.assert_allclose(mixed, whole_prompt_vectors(trained, sequences), atol=2e-5)
    # each prompt started from its own role's head, and a text's vector ignores its batch mates
    assert {len(trained._prefixes.head_of([s])) for s in sequences} == {
        len(trained._encoders[r].head_ids) for r in ("document", "query", "reasoning")
    }
    np.testing.assert_allclose(trained.vectors_for_ids(sequences[1:2])[0], mixed[1], atol=1e-6)


def test_bfloat16_vectors_agree_with_the_whole_prompts():
    fast = Embedder.load(ModelConfig(precision="bfloat16"))
    sequences = prompts(fast)
    got, ref = fast.vectors_for_ids(sequences), whole_prompt_vectors(fast, sequences)
    cosines = (got * ref).sum(1) / np.linalg.norm(got, axis=1) / np.linalg.norm(ref, axis=1)
    assert cosines.min() > 0.999, cosines  # bfloat16 rounding only
    alone = fast.vectors_for_ids(sequences[:1])[0]  # batch mates change bfloat16 rounding only
    assert float(alone @ got[0]) > 0.9995


def test_heads_apply_only_where_a_prompt_starts_with_one_and_outlasts_it(trained):
    prefixes = PromptPrefixes(trained.loaded.model, [[1, 2, 3], [1, 2], []])
    assert prefixes.head_of([[1, 2, 3, 9]]) == (1, 2, 3)
    assert prefixes.head_of([[1, 2, 9]]) == (1, 2)
    assert prefixes.head_of([[1, 2, 3]]) == (1, 2)  # nothing would be left to read after the longer head
    assert prefixes.head_of([[7, 1, 2, 3]]) == ()


def test_a_model_that_may_change_keeps_no_states(trained):
    live = Embedder.from_model(trained.loaded.model, trained.tokenizer, base_id="test", config=trained.config)
    assert live._prefixes is None  # training updates the weights under it
    np.testing.assert_allclose(live.embed_documents(DOCS), trained.embed_documents(DOCS), atol=2e-5)
