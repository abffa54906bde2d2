"""Inference precision and the merged adapter: the fast path against the float32 reference."""

import numpy as np
import pytest
import torch

from searchr3 import Embedder, ModelConfig
from searchr3.errors import InvalidInputError
from searchr3.model.adapter import apply_adapter
from searchr3.model.loading import load_model
from searchr3.model.precision import cpu_has_fast_bf16, resolve_precision

CPU, CUDA = torch.device("cpu"), torch.device("cuda")

TEXTS = [
    "The json module encodes Python objects as JSON text and decodes JSON text back into dicts and lists.",
    "subprocess.run starts a child process, waits for it, and can capture its standard output and error.",
    "A pathlib.Path joins segments with the / operator and resolves symbolic links with resolve().",
    "Jupiter is the largest planet in the Solar System, a gas giant.",
    "functools.lru_cache memoises a function's results keyed by its arguments " * 6,
    "x",
]


def test_names_aliases_and_the_automatic_choice():
    assert resolve_precision("fp32", CPU) == "float32"
    assert resolve_precision("BF16", CPU) == "bfloat16"
    assert resolve_precision(None, CUDA) == resolve_precision("auto", CUDA) == "bfloat16"
    assert resolve_precision(None, CPU) == ("bfloat16" if cpu_has_fast_bf16() else "float32")


def test_an_unknown_precision_is_refused_before_loading():
    with pytest.raises(InvalidInputError, match="precision must be auto, float32 or bfloat16, not 'int8'"):
        load_model(ModelConfig(precision="int8"))


@pytest.fixture(scope="module")
def fast() -> Embedder:
    """The shipped default as users get it, at bfloat16 (the automatic choice on bf16 CPUs)."""
    return Embedder.load(ModelConfig(precision="bfloat16"))


@pytest.mark.model
def test_bfloat16_vectors_match_float32_on_real_text(fast, trained):
    ref = trained.embed_documents(TEXTS)
    got = fast.embed_documents(TEXTS)
    assert got.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    cos = (ref * got).sum(axis=1)
    assert cos.min() > 0.998, cos
    q_cos = (trained.embed_queries(TEXTS[:3]) * fast.embed_queries(TEXTS[:3])).sum(axis=1)
    assert q_cos.min() > 0.998, q_cos
    # one vector space: an index built at one precision is searched at the other
    assert fast.fingerprint == trained.fingerprint


@pytest.mark.model
def test_bfloat16_vector_does_not_depend_on_batch_mates(fast):
    batched = fast.embed_documents(TEXTS)
    for i, text in enumerate(TEXTS):
        alone = fast.embed_documents([text])[0]
        assert float(alone @ batched[i]) > 0.9995, i


@pytest.mark.model
def test_merged_adapter_equals_the_adapter_applied_through_peft(trained):
    assert type(trained.loaded.model).__name__ == "LlamaForCausalLM"  # merged: no peft wrapper left
    bare = load_model(ModelConfig(adapter=None, precision="float32"))
    wrapped, adapter_id = apply_adapter(bare.model, trained.config.adapter_path(), bare.base_id)
    wrapped.eval()
    unmerged = Embedder.from_model(wrapped, bare.tokenizer, base_id=bare.base_id, adapter_id=adapter_id,
                                   config=trained.config)
    assert unmerged.fingerprint == trained.fingerprint
    assert np.abs(unmerged.embed_documents(TEXTS) - trained.embed_documents(TEXTS)).max() < 1e-5
    query = ["How do I read a JSON file?"]
    assert unmerged.traces(query)[0].generated_ids == trained.traces(query)[0].generated_ids


def test_decode_precision_rules():
    from searchr3.model.precision import resolve_decode_precision

    assert resolve_decode_precision(None, "bfloat16", CPU) == "checked"
    assert resolve_decode_precision("int8", "bfloat16", CPU) == "int8"
    assert resolve_decode_precision("auto", "float32", CPU) == "same"
    assert resolve_decode_precision(None, "bfloat16", CUDA) == "same"
    with pytest.raises(InvalidInputError, match="int8 decoding needs bfloat16 on the CPU, not float32 on cpu"):
        resolve_decode_precision("int8", "float32", CPU)
    with pytest.raises(InvalidInputError, match="checked decoding needs bfloat16 on the CPU, not bfloat16 on cuda"):
        resolve_decode_precision("checked", "bfloat16", CUDA)
    with pytest.raises(InvalidInputError, match="decode precision must be auto, same, int8, checked, not 'fp8'"):
        resolve_decode_precision("fp8", "bfloat16", CPU)


@pytest.mark.model
def test_int8_decoder_tracks_the_bfloat16_model_and_leaves_embedding_alone(fast):
    from searchr3.model.precision import Int8WeightLinear, int8_decoder

    decoder = int8_decoder(fast.loaded.model)
    assert not any(isinstance(m, torch.nn.Linear) for m in decoder.modules())
    assert sum(isinstance(m, Int8WeightLinear) for m in decoder.modules()) == 30 * 7 + 1  # 7 per layer + LM head
    same_choice = []  # next-token choice at every position of ~180 tokens of real text (one short text
    for text in (TEXTS[0] + " " + TEXTS[1], TEXTS[2] + " " + TEXTS[3], TEXTS[4]):  # varies 0.88-1.0 by CPU)
        ids = fast.tokenizer(text, return_tensors="pt")["input_ids"]
        with torch.inference_mode():
            ref = fast.loaded.model(input_ids=ids).logits[0].float()
            got = decoder(input_ids=ids).logits[0].float()
        same_choice += (ref.argmax(-1) == got.argmax(-1)).tolist()
    agree = sum(same_choice) / len(same_choice)
    assert len(same_choice) > 150 and agree > 0.9, agree
    # the embedding weights are untouched: vectors equal those of a model that decodes with them
    same = Embedder.load(ModelConfig(precision="bfloat16", decode_precision="same"))
    assert same.loaded.generation_model is same.loaded.model
    np.testing.assert_array_equal(same.embed_documents(TEXTS), fast.embed_documents(TEXTS))
    (r,) = fast.reason(["How do I read a JSON file?"])
    assert r.trace and abs(np.linalg.norm(r.vector) - 1) < 1e-5
