"""``LocalChatModel``: the loaded causal LM as a LangChain chat model (answers, streaming)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import ConfigDict, Field, model_validator

from searchr3.embedding.embedder import Embedder
from searchr3.embedding.repeats import repeat_start
from searchr3.errors import InvalidInputError
from searchr3.model.streaming import Streamed

_ROLES = {"system": "system", "human": "user", "ai": "assistant", "user": "user", "assistant": "assistant"}


class LocalChatModel(BaseChatModel):
    """Chat with a local model (greedy by default): the one that embeds (``embedder=``), or an
    answer model (``model=``, a :class:`~searchr3.answers.answer_model.AnswerModel`).

    The embed token is never generated. A prompt longer than ``max_input_tokens`` raises
    :class:`InvalidInputError` rather than being cut silently. A greedy loop ends the answer:
    when the last ``stop_repeats`` tokens repeat an earlier run of tokens, the text stops before
    the repeat (0 keeps every token). Closing the stream stops generation.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    embedder: Embedder | None = None
    model: Any = None
    max_new_tokens: int = Field(default=256, ge=1)
    max_input_tokens: int = Field(default=3072, ge=16)
    temperature: float = 0.0
    stop_repeats: int = Field(default=12, ge=0)

    @model_validator(mode="after")
    def _one_model(self):
        if (self.embedder is None) == (self.model is None):
            raise ValueError("LocalChatModel needs either embedder= or model=")
        return self

    @property
    def _llm_type(self) -> str:
        return "searchr3-local"

    @property
    def _lm(self):
        """What writes: the embedder's loaded model or the answer model (``model``, ``tokenizer``,
        ``device``, ``sequence_decoder``, ``embed_token_id``)."""
        return self.model if self.model is not None else self.embedder.loaded

    @property
    def _suppressed(self) -> list[int]:
        return [self._lm.embed_token_id] if self._lm.embed_token_id is not None else []

    def _prompt_ids(self, messages: list[BaseMessage]):
        import torch

        tok = self._lm.tokenizer
        chat = [{"role": _ROLES.get(m.type, "user"), "content": m.text} for m in messages]
        ids = tok.apply_chat_template(chat, add_generation_prompt=True, tokenize=True, return_dict=False)
        if hasattr(ids, "input_ids"):
            ids = ids["input_ids"]
        if len(ids) > self.max_input_tokens:
            raise InvalidInputError(f"the prompt is {len(ids)} tokens; the limit is {self.max_input_tokens}")
        return torch.tensor([ids], device=self._lm.device)

    def _generation_kwargs(self, input_ids, stop: list[str] | None) -> dict[str, Any]:
        from transformers import GenerationConfig

        tok = self._lm.tokenizer
        sample = self.temperature > 0
        config = GenerationConfig(
            max_new_tokens=self.max_new_tokens, do_sample=sample, temperature=self.temperature if sample else None,
            top_p=None, top_k=None, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id,
            suppress_tokens=self._suppressed or None, stop_strings=stop or None,
        )
        import torch

        return {
            "input_ids": input_ids,
            "attention_mask": torch.ones_like(input_ids),
            "generation_config": config,
            "tokenizer": tok,
        }

    def _decode(self, decoder, prompt_ids: list[int], stop: list[str] | None, put, cancel: threading.Event) -> None:
        """Generate with the one-sequence decoder (as ``generate`` would: end of turn stops,
        the embed token is never chosen, a stop string ends the answer after it)."""
        tok = self._lm.tokenizer
        new_ids: list[int] = []

        def each(token: int) -> bool:
            put(token)
            new_ids.append(token)
            return cancel.is_set() or (bool(stop) and any(s in tok.decode(new_ids[-64:]) for s in stop))

        eos = [tok.eos_token_id] if tok.eos_token_id is not None else []
        decoder.generate(prompt_ids, self.max_new_tokens, eos, suppress_ids=self._suppressed,
                         temperature=self.temperature, on_token=each)

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> ChatResult:
        text = "".join(chunk.message.content for chunk in self._stream(messages, stop, run_manager, **kwargs))
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])

    def _stream(self, messages: list[BaseMessage], stop: list[str] | None = None,
                run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        import torch
        from transformers import StoppingCriteriaList

        input_ids = self._prompt_ids(messages)
        decoder = self._lm.sequence_decoder

        def work(put, cancel: threading.Event) -> None:
            if decoder is not None:
                self._decode(decoder, input_ids[0].tolist(), stop, put, cancel)
                return
            with torch.inference_mode():
                self._lm.model.generate(**self._generation_kwargs(input_ids, stop), streamer=_NewIds(put),
                                        stopping_criteria=StoppingCriteriaList([_Cancelled(cancel)]))

        tokens = Streamed(work)
        ids = iter(tokens)
        try:
            for piece in _text_pieces(ids, tokens.stop, self._lm.tokenizer, self.stop_repeats):
                if run_manager:
                    run_manager.on_llm_new_token(piece)
                yield ChatGenerationChunk(message=AIMessageChunk(content=piece))
        finally:  # also when the caller stops reading: generation ends at the next token
            ids.close()


class _NewIds:
    """A ``generate`` streamer that hands each new token id to ``put`` (its first ``put`` is the
    prompt, skipped)."""

    def __init__(self, put):
        self._put = put
        self._prompt_seen = False

    def put(self, value) -> None:
        if not self._prompt_seen:
            self._prompt_seen = True
            return
        for token in value.reshape(-1).tolist():
            self._put(int(token))

    def end(self) -> None:
        pass


class _Cancelled:
    """A ``generate`` stopping criterion: true once ``event`` is set."""

    def __init__(self, event: threading.Event):
        self.event = event

    def __call__(self, input_ids, scores, **kwargs):
        import torch

        return torch.full((input_ids.shape[0],), self.event.is_set(), dtype=torch.bool, device=input_ids.device)


def _text_pieces(ids: Iterator[int], stop: Callable[[], None], tokenizer, span: int) -> Iterator[str]:
    """The text of streamed ids, piece by piece. The last ``span`` ids are held back so that
    when they repeat an earlier run of ids (a greedy loop) the text ends before the repeat and
    generation is stopped. Characters still incomplete (a split UTF-8 sequence) wait."""
    got: list[int] = []
    shown = ""
    for token in ids:
        got.append(token)
        cut = repeat_start(got, span)
        if cut is not None:
            stop()
            got = got[:cut]
            break
        text = tokenizer.decode(got[: len(got) - span] if span > 0 else got, skip_special_tokens=True)
        if len(text) > len(shown) and not text.endswith("\ufffd"):
            yield text[len(shown):]
            shown = text
    text = tokenizer.decode(got, skip_special_tokens=True)
    if len(text) > len(shown):
        yield text[len(shown):]
