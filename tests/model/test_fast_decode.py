"""The one-sequence int8 decoder (``searchr3.model.fast_decode``) against the model it copies.

Speed is measured by ``bench/generate.py``; here: it computes what the model computes (its
prompt logits equal the bfloat16 model's, its int8 steps choose the model's next token on real
text), greedy and sampled decoding follow ``generate``'s rules, checked decoding (int8 drafts,
float32 checks: the shipped default) writes exactly the float32 model's greedy text, and the
embedder and the local chat model use it for one query or one answer without changing what a
vector is."""

import numpy as np
import pytest
import torch
from langchain_core.messages import HumanMessage

from searchr3 import Embedder, ModelConfig
from searchr3.answers.local_chat import LocalChatModel, repeat_start
from searchr3.embedding.reasoning import Sampling
from searchr3.model.fast_decode import Int8Decoder, block_edge, prompt_blocks, supports

pytestmark = pytest.mark.model

TEXT = (
    "The json module encodes Python objects as JSON text and decodes JSON text back into dicts and lists. "
    "subprocess.run starts a child process, waits for it, and can capture its standard output and error. "
    "A pathlib.Path joins segments with the / operator and resolves symbolic links with resolve()."
)
QUERIES = ["How do I read a JSON file into a dictionary?", "How can I parse command line arguments?"]


@pytest.fixture(scope="module")
def shipped() -> Embedder:
    """The default as users get it on a bf16 CPU: bfloat16 vectors, int8 decoding."""
    return Embedder.load(ModelConfig(precision="bfloat16", decode_precision="int8", reasoning_tokens=32))


@pytest.fixture(scope="module")
def decoder(shipped) -> Int8Decoder:
    found = shipped.loaded.sequence_decoder
    assert isinstance(found, Int8Decoder) and shipped.loaded.sequence_decoder is found  # built once
    assert found.draft == 0
    return found


@pytest.fixture(scope="module")
def checked() -> Embedder:
    """The default as it ships on a bf16 CPU: bfloat16 vectors, int8 drafts checked by float32."""
    return Embedder.load(ModelConfig(precision="bfloat16", reasoning_tokens=24))


@pytest.fixture(scope="module")
def checked_decoder(checked) -> Int8Decoder:
    assert checked.loaded.decode_precision == "checked"  # the CPU default
    found = checked.loaded.sequence_decoder
    assert found.draft > 0 and found.layers[0].q.dtype == torch.float32
    return found


def test_prompt_logits_equal_the_models_and_int8_steps_choose_its_tokens(shipped, decoder, trained):
    ids = shipped.tokenizer(TEXT)["input_ids"]
    with torch.inference_mode():
        exact = trained.loaded.model(input_ids=torch.tensor([ids])).logits[0].float()  # float32
        bf16 = shipped.loaded.model(input_ids=torch.tensor([ids])).logits[0].float()

    def error(logits: torch.Tensor, ref: torch.Tensor) -> float:
        return (logits.log_softmax(-1) - ref.log_softmax(-1)).abs().max().item()

    # read all at once (bfloat16 weights, as a prompt is read): as close to float32 as the model
    whole = decoder.stepwise_logits(ids, len(ids))[0]
    assert int(whole.argmax()) == int(exact[-1].argmax())
    ours, model = error(whole, exact[-1]), error(bf16[-1], exact[-1])
    assert ours < 2 * model + 0.05, (ours, model)
    # after a 4-token prompt, one token at a time through the int8 weights: the model's choices
    steps = decoder.stepwise_logits(ids, 4)
    assert steps.shape == exact[3:].shape
    agree = (steps.argmax(-1) == exact[3:].argmax(-1)).float().mean().item()
    assert agree > 0.9, agree


@pytest.mark.parametrize("which", ["decoder", "checked_decoder"])
def test_greedy_stops_and_suppression_follow_generate(shipped, which, request):
    decoder = request.getfixturevalue(which)
    prompt = shipped._encoders["reasoning"].encode(QUERIES[:1])[0].ids
    greedy = decoder.generate(prompt, 12)
    assert len(greedy) == 12 and greedy == decoder.generate(prompt, 12)  # deterministic
    assert decoder.generate(prompt, 12, stop_ids=[greedy[2]])[: greedy.index(greedy[2]) + 1] == greedy[
        : greedy.index(greedy[2]) + 1
    ]
    assert decoder.generate(prompt, 12, stop_ids=[greedy[2]])[-1] == greedy[2]  # ends with the stop id
    assert decoder.generate(prompt, 12, suppress_ids=[greedy[0]])[0] != greedy[0]
    seen: list[int] = []
    assert decoder.generate(prompt, 12, on_token=lambda t: seen.append(t) or len(seen) == 5) == greedy[:5] == seen
    with pytest.raises(ValueError, match="empty"):
        decoder.generate([], 4)


def test_sampling_is_seeded_and_a_tiny_nucleus_is_greedy(shipped, decoder):
    prompt = shipped._encoders["reasoning"].encode(QUERIES[1:])[0].ids
    greedy = decoder.generate(prompt, 16)

    def sample(seed: int, **kw) -> list[int]:
        torch.manual_seed(seed)
        return decoder.generate(prompt, 16, temperature=1.0, **kw)

    assert sample(1) == sample(1)
    assert len({tuple(sample(s)) for s in range(4)}) > 1
    assert sample(2, top_p=1e-6) == greedy  # only the most likely token survives the filter


def test_a_query_is_reasoned_by_the_decoder_and_embedded_by_the_model(shipped, decoder):
    (trace,) = shipped.traces(QUERIES[:1])
    prompt = shipped._encoders["reasoning"].encode(QUERIES[:1])[0].ids
    assert trace.generated_ids == decoder.generate(prompt, 32, shipped._generator.stop_ids)
    (reasoned,) = shipped.reason(QUERIES[:1])
    assert reasoned.trace == trace.text
    np.testing.assert_allclose(reasoned.vector, shipped.vectors_for_ids([trace.final_ids])[0], atol=1e-6)
    pieces: list[str] = []
    shipped.traces(QUERIES[:1], on_trace=pieces.append)
    assert "".join(pieces).strip().startswith(trace.text[:40])
    seeded = Sampling(do_sample=True, temperature=0.8, top_p=0.9, seed=7)
    assert shipped.traces(QUERIES[:1], seeded)[0].generated_ids == shipped.traces(QUERIES[:1], seeded)[0].generated_ids
    # batches and several samples per query still go through generate (the int8 copy)
    assert len(shipped.traces(QUERIES, Sampling(do_sample=True, num_samples=2, seed=1))) == 4


def test_the_local_chat_model_writes_with_the_decoder(shipped, decoder):
    chat = LocalChatModel(embedder=shipped, max_new_tokens=24)
    answer = chat.invoke([HumanMessage("Name three colours.")]).content
    prompt = chat._prompt_ids([HumanMessage("Name three colours.")])[0].tolist()
    tok = shipped.tokenizer
    ids = decoder.generate(prompt, 24, [tok.eos_token_id], suppress_ids=[shipped.loaded.embed_token_id])
    assert answer == tok.decode(ids, skip_special_tokens=True)
    streamed = "".join(c.content for c in chat.stream([HumanMessage("Name three colours.")]))
    assert streamed == answer
    first_word = answer.split()[0]
    stopped = chat.invoke([HumanMessage("Name three colours.")], stop=[first_word]).content
    assert first_word in stopped and len(stopped) < len(answer)


def test_checked_decoding_writes_the_float32_models_greedy_text(checked, checked_decoder, trained):
    """``trained`` is the same model in float32 through ``generate``: the reference text."""
    queries = [*QUERIES, "Why are floating-point calculations so inaccurate?", "How do I sort a dictionary by value?"]
    for query in queries:
        assert checked.traces([query])[0].generated_ids == trained.traces([query])[0].generated_ids, query
    question = [HumanMessage("What is the difference between a list and a tuple?")]
    written = LocalChatModel(embedder=checked, max_new_tokens=48, stop_repeats=0).invoke(question).content
    assert written == LocalChatModel(embedder=trained, max_new_tokens=48, stop_repeats=0).invoke(question).content
    # how far ahead int8 drafts changes the speed, never the text
    prompt = checked._encoders["reasoning"].encode(QUERIES[:1])[0].ids
    expected, original = checked_decoder.generate(prompt, 40), checked_decoder.draft
    for draft in (1, 3, 12):
        checked_decoder.draft = draft
        try:
            assert checked_decoder.generate(prompt, 40) == expected, draft
        finally:
            checked_decoder.draft = original


def test_a_prompt_that_begins_like_a_recent_one_starts_from_its_keys_and_values(trained):
    """Checked decoding, as shipped (float32 reads; in bfloat16 a copied key may round apart
    from a re-read one, enough to flip a near-tie)."""
    first, second = (p.ids for p in trained._encoders["reasoning"].encode(
        ["How do I read a JSON file into a dictionary?", "How can I parse command line arguments?"]))
    common = next(i for i, (a, b) in enumerate(zip(first, second)) if a != b)
    assert common > 30  # the reasoning instructions

    def fresh() -> Int8Decoder:
        return Int8Decoder(trained.loaded.model, draft=6)

    warm = fresh()
    assert warm.shared_prompt_tokens(second) == 0
    warm.generate(first, 4)
    assert warm.shared_prompt_tokens(second) == block_edge(common) >= 32  # copied up to a block edge
    assert warm.shared_prompt_tokens(first) == block_edge(len(first) - 1)  # the last token is always read
    assert warm.generate(second, 24) == fresh().generate(second, 24)
    assert warm.generate(first, 24) == fresh().generate(first, 24)  # the same prompt again
    assert warm.generate(first[:common + 2], 8) == fresh().generate(first[:common + 2], 8)  # a shorter one


def test_only_llama_models_on_the_cpu_decoding_below_their_precision_get_one(shipped, trained):
    assert supports(trained.loaded.model)  # float32: checked decoding builds one from it
    assert trained.loaded.sequence_decoder is None  # float32 decodes as it embeds ("same")
    with pytest.raises(ValueError, match="draft"):
        Int8Decoder(trained.loaded.model, draft=-1)
    same = Embedder.load(ModelConfig(precision="bfloat16", decode_precision="same"))
    assert supports(same.loaded.model) and same.loaded.sequence_decoder is None  # decoding asked at bf16


def test_a_greedy_loop_ends_the_answer_before_the_repeat(shipped, decoder):
    """The shipped model loops on some questions (seen in bench.generate; which ones depends on the
    adapter and the CPU's int8 rounding, so the first of a few that loops is taken): the answer stops
    where the loop begins, generation is cancelled, and the text is the unstopped answer's beginning.
    The second answer starts from the first's kept keys and values, the first reads its prompt
    itself: block-edged prompt reads make both the same text (on an AMD EPYC they parted at a near
    tie when a one-token read rounded differently from a whole-prompt read)."""
    whole = LocalChatModel(embedder=shipped, max_new_tokens=96, stop_repeats=0)

    def loops(text: str) -> bool:
        ids = shipped.tokenizer(text, add_special_tokens=False)["input_ids"]
        return any(repeat_start(ids[:n], 12) is not None for n in range(24, len(ids) + 1))

    for asked in ("How fast are exceptions?", "What does os.path.join do?", "What does functools.partial return?"):
        question = [HumanMessage(asked)]
        looped = whole.invoke(question).content
        if loops(looped):
            break
    else:
        pytest.fail("none of the questions loops any more: pick one that does (python -m bench.generate)")
    chat = LocalChatModel(embedder=shipped, max_new_tokens=96)
    stopped = chat.invoke(question).content
    assert 0 < len(stopped) < len(looped) and looped.startswith(stopped)
    kept = shipped.tokenizer(stopped, add_special_tokens=False)["input_ids"]
    assert not any(repeat_start(kept[:n], 12) is not None for n in range(24, len(kept) + 1))
    assert "".join(c.content for c in chat.stream(question)) == stopped


def test_a_prompt_is_read_in_blocks_with_fixed_edges():
    assert [block_edge(n) for n in (0, 15, 16, 31, 32, 100, 512, 513)] == [0, 0, 16, 16, 32, 64, 512, 512]
    assert prompt_blocks(0, 10) == [(0, 10)]
    assert prompt_blocks(0, 100) == [(0, 16), (16, 32), (32, 64), (64, 100)]
    assert prompt_blocks(32, 200) == [(32, 64), (64, 128), (128, 200)]  # the same edges from a copied head
    assert prompt_blocks(64, 64) == []
    with pytest.raises(ValueError, match="block edge"):
        prompt_blocks(40, 100)


def test_the_same_prompt_decodes_to_the_same_text_whatever_was_copied(shipped):
    """int8 decoding of a chat prompt: read whole, read after its own kept head (one token read)
    and read after a longer prompt's head, the greedy text is the same (before block-edged reads
    it parted within 96 tokens on an AMD EPYC)."""
    message = [{"role": "user", "content": "What does functools.partial return?"}]
    rendered = shipped.tokenizer.apply_chat_template(message, add_generation_prompt=True, tokenize=False)
    prompt = shipped.tokenizer(rendered, add_special_tokens=False)["input_ids"]
    texts = []
    for before in (None, prompt, prompt + prompt[-20:]):
        decoder = Int8Decoder(shipped.loaded.model)
        if before is not None:
            decoder.generate(before, 1)
            assert decoder.shared_prompt_tokens(prompt) == block_edge(len(prompt) - 1) >= 32
        texts.append(decoder.generate(prompt, 96))
    assert len(texts[0]) > 40 and texts[0] == texts[1] == texts[2]

