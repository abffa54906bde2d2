"""The embedder on the real default model (SmolLM2-135M-Instruct, untrained read-out)."""

import numpy as np
import pytest

from searchr3 import InvalidInputError, Sampling
from searchr3.embedding.reasoning import TRACE_REPEATS
from searchr3.embedding.repeats import repeat_start

pytestmark = pytest.mark.model

DOCS = [
    "Python lists are mutable sequences; list.sort() sorts them in place.",
    "The kernel schedules processes on the available CPUs.",
    "Jupiter is the largest planet in the Solar System.",
    "Mix the starter with flour and water and let the dough rise overnight.",
]


def test_shapes_dtype_and_unit_norm(embedder):
    d = embedder.embed_documents(DOCS)
    q = embedder.embed_queries(["which planet is largest?"])
    assert d.shape == (4, embedder.dim) and q.shape == (1, embedder.dim)
    assert embedder.dim == 576
    assert d.dtype == np.float32 and q.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(d, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(q, axis=1), 1.0, atol=1e-5)


def test_empty_list_gives_empty_array(embedder):
    assert embedder.embed_documents([]).shape == (0, embedder.dim)


def test_deterministic(embedder):
    """The same texts give the same vectors: to float32 rounding, not bit for bit (a fresh-clone run on a
    busy machine once differed by 4e-8; dropout left on, or any sampling, moves them by 1e-3 or more)."""
    a = embedder.embed_documents(DOCS)
    b = embedder.embed_documents(DOCS)
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)


def test_batch_equals_single(embedder):
    texts = DOCS + ["a much longer passage " * 20, "x"]
    batched = embedder.embed_documents(texts)
    for i, text in enumerate(texts):
        alone = embedder.embed_documents([text])[0]
        assert np.abs(alone - batched[i]).max() < 1e-4, i


def test_query_and_document_prompts_differ(embedder):
    text = "How do I sort a list?"
    q = embedder.embed_queries([text])[0]
    d = embedder.embed_documents([text])[0]
    assert not np.allclose(q, d)


# Hand-written (query, passage) pairs. Measured on the untrained read-out: 5 of these 6
# queries rank their own passage first; the miss is the "reverse a list" query, which sits
# closer to the other Python passage (file reading). Every query beats every passage of an
# unrelated domain. Cosines are all in 0.87-0.99 (a very anisotropic space).
PAIRS = [
    (
        "How do I reverse a list in Python?",
        "To reverse a list in place, call list.reverse(); "
        "reversed(seq) returns an iterator over the items in reverse order.",
        "code",
    ),
    (
        "What does the chmod command do?",
        "chmod changes the file mode bits of each given file according to mode, "
        "which controls read, write and execute permission.",
        "code",
    ),
    (
        "How can I open a file for reading?",
        "Use open(path, 'r') to get a file object; iterate over it to read the file line by line.",
        "code",
    ),
    (
        "Which planet is largest in the solar system?",
        "Jupiter is the largest planet in the Solar System, "
        "a gas giant with a mass more than twice that of all other planets combined.",
        "space",
    ),
    (
        "How do I bake sourdough bread?",
        "Mix the starter with flour and water, let the dough rise overnight, shape it and bake in a hot Dutch oven.",
        "food",
    ),
    (
        "What causes rain?",
        "Water vapour in clouds condenses into droplets; when they grow heavy enough they fall as rain.",
        "weather",
    ),
]


def test_untrained_query_is_closer_to_its_passage(embedder):
    q = embedder.embed_queries([p[0] for p in PAIRS])
    d = embedder.embed_documents([p[1] for p in PAIRS])
    sims = q @ d.T
    assert (sims.argmax(axis=1) == np.arange(len(PAIRS))).sum() >= 5
    for i, (_, _, domain) in enumerate(PAIRS):
        for j, (_, _, other) in enumerate(PAIRS):
            if other != domain:
                assert sims[i, i] > sims[i, j], (i, j)


def test_reasoning_returns_trace_and_vector(embedder):
    (r,) = embedder.reason(["How do I reverse a list in Python?"])
    assert r.trace.strip()
    assert r.vector.shape == (embedder.dim,)
    assert abs(np.linalg.norm(r.vector) - 1) < 1e-5
    # greedy decoding is deterministic
    (again,) = embedder.reason(["How do I reverse a list in Python?"])
    assert again.trace == r.trace and np.array_equal(again.vector, r.vector)
    # reasoning changes the vector
    plain = embedder.embed_query("How do I reverse a list in Python?")
    assert not np.allclose(plain, r.vector)


def test_embed_token_forced_when_budget_runs_out(embedder):
    (t,) = embedder.traces(["Explain in detail how a hash map works."], max_new_tokens=4)
    embed_id = embedder.loaded.embed_token_id
    assert len(t.generated_ids) == 4 and not t.emitted_embed_token
    assert t.final_ids[-1] == embed_id and t.final_ids.count(embed_id) == 1
    assert embedder.tokenizer.decode(t.final_ids[len(t.prompt_ids):]).endswith("The embedding is <|embed_token|>")


def test_an_opening_is_written_first_and_the_model_continues_it(embedder):
    opening = "Looking for a passage that mentions"
    (t,) = embedder.traces(["How do I reverse a list in Python?"], max_new_tokens=6, opening=opening)
    (free,) = embedder.traces(["How do I reverse a list in Python?"], max_new_tokens=6)
    opening_ids = embedder.tokenizer(opening, add_special_tokens=False)["input_ids"]
    assert t.prompt_ids == free.prompt_ids + opening_ids  # the opening sits in the prompt ...
    assert t.final_ids[: len(t.prompt_ids)] == t.prompt_ids and len(t.generated_ids) == 6
    assert not t.text.startswith("Looking")  # ... and the text is the model's continuation only
    assert t.generated_ids != free.generated_ids


def test_sampling_gives_groups_and_is_seeded(embedder):
    sampling = Sampling(do_sample=True, temperature=1.0, num_samples=3, seed=7)
    a = embedder.traces(["what is a closure?", "how do pipes work?"], sampling, max_new_tokens=12)
    b = embedder.traces(["what is a closure?", "how do pipes work?"], sampling, max_new_tokens=12)
    assert [t.query_index for t in a] == [0, 0, 0, 1, 1, 1]
    assert [t.generated_ids for t in a] == [t.generated_ids for t in b]
    assert len({tuple(t.generated_ids) for t in a[:3]}) > 1


@pytest.mark.parametrize("bad", ["", "   \n", None, 42, b"bytes"])
def test_bad_items_raise_typed_errors(embedder, bad):
    with pytest.raises(InvalidInputError, match="text #1"):
        embedder.embed_documents(["fine", bad])


def test_a_bare_string_is_refused(embedder):
    with pytest.raises(InvalidInputError, match="list of strings"):
        embedder.embed_documents("not a list")


def test_very_long_text_is_truncated_and_says_so(embedder):
    long_text = "All work and no play makes Jack a dull boy. " * 2300  # ~100,000 characters
    assert len(long_text) > 100_000
    enc = embedder.encode([long_text, "short"], role="document")
    assert enc.truncated == [True, False]
    assert enc.vectors.shape == (2, embedder.dim)
    # the cut text equals its first max_document_tokens tokens
    head = embedder.tokenizer.decode(embedder.tokenizer(long_text[:2000], add_special_tokens=False)["input_ids"][:128])
    assert np.abs(embedder.embed_documents([head])[0] - enc.vectors[0]).max() < 1e-4


def test_trained_default_separates_the_pairs_better(embedder, trained):
    """The shipped stage-1 adapter ranks every hand-written pair right, with a wider margin."""

    def margins(model):
        sims = model.embed_queries([p[0] for p in PAIRS]) @ model.embed_documents([p[1] for p in PAIRS]).T
        off = sims - np.eye(len(PAIRS)) * 10
        return sims.diagonal() - off.max(axis=1), sims

    untrained_margin, _ = margins(embedder)
    trained_margin, sims = margins(trained)
    assert (sims.argmax(axis=1) == np.arange(len(PAIRS))).all()
    assert trained_margin.mean() > 3 * max(untrained_margin.mean(), 1e-3)


def test_a_looping_trace_ends_where_the_repeat_begins(trained):
    """The shipped model loops on this question ("… Embedding Embedding Embedding …" to the budget):
    a user's trace stops there, keeps one copy of the run and closes with the embed sentence; a batch
    (evaluation, training rollouts) keeps what the model wrote."""
    question = "Which services start at boot and how do I disable them?"
    (trace,) = trained.traces([question], max_new_tokens=64)
    batch = trained.traces([question, "What is Python?"], max_new_tokens=64)
    assert repeat_start(batch[0].generated_ids, TRACE_REPEATS) is not None  # the model does loop
    assert len(batch[0].generated_ids) == 64
    assert repeat_start(trace.generated_ids, TRACE_REPEATS) is None and len(trace.generated_ids) < 64
    assert batch[0].generated_ids[: len(trace.generated_ids)] == trace.generated_ids  # the same text, cut
    assert trace.final_ids[-1] == trained.loaded.embed_token_id and not trace.emitted_embed_token
    assert trace.text.count("Embedding Embedding") <= 1
