"""Reasoning traces: the model analyses a query, then emits ``<|embed_token|>``.

Generation stops at the embed token (or end of turn, or the token budget); when the model
did not emit the embed token itself, the embed sentence is appended ("forced"), so every
trace ends in a position the read-out can use.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from searchr3.embedding.batching import pad_left
from searchr3.embedding.encoding import PromptIds
from searchr3.embedding.repeats import repeat_start
from searchr3.model.loading import LoadedModel
from searchr3.model.prompts import EMBED_LEAD, EMBED_SUFFIX, EMBED_TOKEN

#: Receives a reasoning trace's text piece by piece as it is written (the same name, ``on_trace``, from
#: the service down to the generator).
TraceCallback = Callable[[str], None]

# A trace whose last this many tokens repeat an earlier run of its tokens is in a greedy loop: it
# ends where the repeat begins, and the embed sentence follows.
TRACE_REPEATS = 12


@dataclass(frozen=True)
class Sampling:
    """Decoding settings. The default is greedy: deterministic, for search time."""

    do_sample: bool = False
    temperature: float = 1.0
    top_p: float = 1.0
    num_samples: int = 1
    seed: int | None = None


@dataclass(frozen=True)
class Trace:
    """One reasoning rollout for one query.

    ``final_ids`` is ``prompt_ids + trace tokens + embed sentence`` and ends with the embed
    token; ``generated_ids`` is what the model produced before stopping (training scores
    these); ``emitted_embed_token`` is False when the embed sentence had to be forced.
    """

    query_index: int
    text: str
    prompt_ids: list[int]
    generated_ids: list[int]
    final_ids: list[int]
    emitted_embed_token: bool
    query_truncated: bool


def _clean_trace(text: str) -> str:
    text = text.replace(EMBED_TOKEN, "").strip()
    lead = EMBED_LEAD.strip()
    if text.endswith(lead):
        text = text[: -len(lead)].rstrip()
    return text


class TraceFrame:
    """How a trace becomes the ids the read-out sees: the reasoning prompt, the trace, then
    the embed sentence (after a line break when the trace is not empty), as
    :class:`TraceGenerator` closes a trace the model did not end itself. Training builds its
    trace targets with the same ids, so what it teaches is what search reads."""

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer
        self.suffix_ids = tokenizer(EMBED_SUFFIX, add_special_tokens=False)["input_ids"]
        self.newline_suffix_ids = tokenizer("\n" + EMBED_SUFFIX, add_special_tokens=False)["input_ids"]

    def trace_ids(self, text: str, limit: int | None = None) -> list[int]:
        """The ids of a trace text (``limit`` tokens at most); none for a blank one."""
        ids = self.tokenizer(text, add_special_tokens=False)["input_ids"] if text.strip() else []
        return ids[:limit] if limit is not None else ids

    def final_ids(self, prompt_ids: list[int], text: str, limit: int | None = None) -> list[int]:
        """``prompt_ids`` + the trace's ids + the embed sentence: ends with the embed token."""
        body = self.trace_ids(text, limit)
        return prompt_ids + body + (self.newline_suffix_ids if body else self.suffix_ids)


class TraceGenerator:
    """Generates reasoning traces for prompt ids built with the ``reasoning`` role.

    One prompt with one greedy or sampled trace (a user's query) goes through the loaded
    model's :attr:`~searchr3.model.loading.LoadedModel.sequence_decoder` where it has one; batches
    and several samples per prompt (evaluation, training) through ``generate``. A user's trace
    (one prompt, one sample) stops when it loops (:data:`TRACE_REPEATS`) and is cut where the
    repeat began; batches keep what the model wrote, as training scores it.
    """

    def __init__(self, loaded: LoadedModel):
        self.loaded = loaded
        tokenizer = loaded.tokenizer
        self.tokenizer = tokenizer
        self.embed_token_id = loaded.embed_token_id
        self.device = loaded.device
        eos = [tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else []
        self.stop_ids = [self.embed_token_id, *eos]
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        self.frame = TraceFrame(tokenizer)
        self.suffix_ids, self.newline_suffix_ids = self.frame.suffix_ids, self.frame.newline_suffix_ids

    def _finish(self, index: int, prompt: PromptIds, new_ids: list[int]) -> Trace:
        stop_at = next((i for i, t in enumerate(new_ids) if t in self.stop_ids), None)
        emitted = stop_at is not None and new_ids[stop_at] == self.embed_token_id
        body = new_ids[:stop_at] if stop_at is not None else new_ids
        generated = new_ids[: stop_at + 1] if stop_at is not None else new_ids
        raw = self.tokenizer.decode(body, skip_special_tokens=True)
        if emitted:
            final = prompt.ids + body + [self.embed_token_id]
        elif raw.rstrip().endswith(EMBED_LEAD.strip()):
            final = prompt.ids + body + [self.embed_token_id]
        else:
            final = prompt.ids + body + (self.newline_suffix_ids if raw.strip() else self.suffix_ids)
        return Trace(index, _clean_trace(raw), prompt.ids, generated, final, emitted, prompt.truncated)

    def final_ids(self, prompt: PromptIds, text: str) -> list[int]:
        """The ids a trace ``text`` ends as when the embed sentence is appended to it (what
        :meth:`generate` makes of a trace the model ended without the embed token)."""
        return self.frame.final_ids(prompt.ids, text)

    def streamer(self, on_trace: TraceCallback):
        """A transformers streamer that hands ``on_trace`` each piece of decoded trace text."""
        from transformers import TextStreamer

        class _Pieces(TextStreamer):
            def on_finalized_text(self, text: str, stream_end: bool = False) -> None:
                if text:
                    on_trace(text)

        return _Pieces(self.tokenizer, skip_prompt=True, skip_special_tokens=True)

    @torch.inference_mode()
    def generate(
        self, prompts: Sequence[PromptIds], max_new_tokens: int, sampling: Sampling, batch_size: int = 16,
        on_trace: TraceCallback | None = None,
    ) -> list[Trace]:
        """Traces for each prompt, ``sampling.num_samples`` per prompt, in prompt order.
        ``on_trace`` (one prompt, one sample only) receives the trace text as it is generated."""
        if on_trace is not None and (len(prompts) != 1 or sampling.num_samples != 1):
            raise ValueError("streaming a trace needs one prompt and one sample")
        from transformers import GenerationConfig, StoppingCriteriaList

        gen_config = GenerationConfig(
            max_new_tokens=max_new_tokens,
            do_sample=sampling.do_sample,
            temperature=sampling.temperature if sampling.do_sample else None,
            top_p=sampling.top_p if sampling.do_sample else None,
            top_k=None,
            num_return_sequences=sampling.num_samples,
            eos_token_id=self.stop_ids,
            pad_token_id=self.pad_id,
        )
        traces: list[Trace] = []
        with torch.random.fork_rng(devices=[]):
            if sampling.seed is not None:
                torch.manual_seed(sampling.seed)
            single = len(prompts) == 1 and sampling.num_samples == 1
            decoder = self.loaded.sequence_decoder if single else None
            if decoder is not None:
                new_ids = self._one(decoder, prompts[0], max_new_tokens, sampling, on_trace)
                return [self._finish(0, prompts[0], _before_loop(new_ids))]
            for start in range(0, len(prompts), batch_size):
                chunk = prompts[start : start + batch_size]
                ids, mask = pad_left([p.ids for p in chunk], self.pad_id)
                out = self.loaded.generation_model.generate(
                    input_ids=ids.to(self.device), attention_mask=mask.to(self.device), generation_config=gen_config,
                    streamer=self.streamer(on_trace) if on_trace else None,
                    stopping_criteria=StoppingCriteriaList([_Looping(ids.shape[1])]) if single else None,
                )
                new = out[:, ids.shape[1] :].tolist()
                if single:
                    new = [_before_loop(new[0])]
                for row, new_ids in enumerate(new):
                    j = start + row // sampling.num_samples
                    traces.append(self._finish(j, prompts[j], new_ids))
        return traces

    def _one(self, decoder, prompt: PromptIds, max_new_tokens: int, sampling: Sampling,
             on_trace: TraceCallback | None) -> list[int]:
        streamer = self.streamer(on_trace) if on_trace else None
        if streamer is not None:
            streamer.put(torch.tensor(prompt.ids))  # skipped as the prompt, as generate does

        written: list[int] = []

        def each(token: int) -> bool:
            if streamer is not None:
                streamer.put(torch.tensor([token]))
            written.append(token)
            return repeat_start(written, TRACE_REPEATS) is not None

        new_ids = decoder.generate(
            prompt.ids, max_new_tokens, self.stop_ids,
            temperature=sampling.temperature if sampling.do_sample else 0.0,
            top_p=sampling.top_p if sampling.do_sample else 1.0, on_token=each,
        )
        if streamer is not None:
            streamer.end()
        return new_ids


def _before_loop(new_ids: list[int]) -> list[int]:
    """``new_ids`` up to where a greedy loop began (all of them when there is none)."""
    cut = repeat_start(new_ids, TRACE_REPEATS)
    return new_ids if cut is None else new_ids[:cut]


class _Looping:
    """A ``generate`` stopping criterion for one sequence: true once its new tokens loop."""

    def __init__(self, prompt_length: int):
        self.prompt_length = prompt_length

    def __call__(self, input_ids, scores, **kwargs):
        looping = repeat_start(input_ids[0, self.prompt_length :].tolist(), TRACE_REPEATS) is not None
        return torch.full((input_ids.shape[0],), looping, dtype=torch.bool, device=input_ids.device)
