from searchr3.embedding.encoding import PromptEncoder
from searchr3.model.prompts import EMBED_TOKEN, QUERY_SYSTEM, frame


def test_query_prompt_is_the_papers(embedder):
    f = frame(embedder.tokenizer, "query")
    assert QUERY_SYSTEM in f.head
    assert f.tail.endswith("The embedding is " + EMBED_TOKEN)
    assert "<|im_start|>assistant" in f.tail


def test_reasoning_prompt_leaves_the_assistant_turn_open(embedder):
    f = frame(embedder.tokenizer, "reasoning")
    assert f.tail.rstrip().endswith("<|im_start|>assistant")
    assert EMBED_TOKEN not in f.tail


def test_encoded_prompt_ends_with_the_single_embed_token(embedder):
    enc = PromptEncoder(embedder.tokenizer, "document", max_text_tokens=16)
    embed_id = embedder.loaded.embed_token_id
    (p,) = enc.encode(["A short passage."])
    assert p.ids[-1] == embed_id and p.ids.count(embed_id) == 1
    assert not p.truncated


def test_truncation_cuts_the_text_and_keeps_the_tail(embedder):
    enc = PromptEncoder(embedder.tokenizer, "query", max_text_tokens=16)
    long, short = enc.encode(["word " * 500, "word " * 3])
    assert long.truncated and long.text_tokens > 16
    assert len(long.ids) == len(enc.head_ids) + 16 + len(enc.tail_ids)
    assert long.ids[-len(enc.tail_ids):] == enc.tail_ids
    assert not short.truncated


def test_embed_token_appears_only_at_the_read_out(embedder):
    embed_id = embedder.loaded.embed_token_id
    for role in ("query", "document", "reasoning"):
        enc = PromptEncoder(embedder.tokenizer, role, max_text_tokens=16)
        (p,) = enc.encode(["text"])
        assert p.ids.count(embed_id) == (0 if role == "reasoning" else 1), role
