"""``LocalChatModel``: the loaded causal LM as a LangChain chat model (answers, streaming)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import ConfigDict, Field

from .embedder import Embedder
from .errors import InvalidInputError

_ROLES = {"system": "system", "human": "user", "ai": "assistant", "user": "user", "assistant": "assistant"}


class LocalChatModel(BaseChatModel):
    """Chat with the same local model that embeds (greedy by default).

    The embed token is never generated. A prompt longer than ``max_input_tokens`` raises
    :class:`InvalidInputError` rather than being cut silently.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    embedder: Embedder
    max_new_tokens: int = Field(default=256, ge=1)
    max_input_tokens: int = Field(default=3072, ge=16)
    temperature: float = 0.0

    @property
    def _llm_type(self) -> str:
        return "searchr3-local"

    def _prompt_ids(self, messages: list[BaseMessage]):
        import torch

        tok = self.embedder.tokenizer
        chat = [{"role": _ROLES.get(m.type, "user"), "content": m.text} for m in messages]
        ids = tok.apply_chat_template(chat, add_generation_prompt=True, tokenize=True, return_dict=False)
        if hasattr(ids, "input_ids"):
            ids = ids["input_ids"]
        if len(ids) > self.max_input_tokens:
            raise InvalidInputError(f"the prompt is {len(ids)} tokens; the limit is {self.max_input_tokens}")
        return torch.tensor([ids], device=self.embedder.loaded.device)

    def _generation_kwargs(self, input_ids, stop: list[str] | None) -> dict[str, Any]:
        from transformers import GenerationConfig

        tok = self.embedder.tokenizer
        sample = self.temperature > 0
        config = GenerationConfig(
            max_new_tokens=self.max_new_tokens, do_sample=sample, temperature=self.temperature if sample else None,
            top_p=None, top_k=None, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id,
            suppress_tokens=[self.embedder.loaded.embed_token_id], stop_strings=stop or None,
        )
        import torch

        return {
            "input_ids": input_ids,
            "attention_mask": torch.ones_like(input_ids),
            "generation_config": config,
            "tokenizer": tok,
        }

    def _decode(self, decoder, prompt_ids: list[int], stop: list[str] | None, streamer) -> None:
        """Generate with the one-sequence decoder (as ``generate`` would: end of turn stops,
        the embed token is never chosen, a stop string ends the answer after it)."""
        import torch

        tok = self.embedder.tokenizer
        new_ids: list[int] = []
        streamer.put(torch.tensor(prompt_ids))  # skipped as the prompt

        def each(token: int) -> bool:
            streamer.put(torch.tensor([token]))
            new_ids.append(token)
            return bool(stop) and any(s in tok.decode(new_ids[-64:]) for s in stop)

        eos = [tok.eos_token_id] if tok.eos_token_id is not None else []
        decoder.generate(prompt_ids, self.max_new_tokens, eos, suppress_ids=[self.embedder.loaded.embed_token_id],
                         temperature=self.temperature, on_token=each)
        streamer.end()

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> ChatResult:
        text = "".join(chunk.message.content for chunk in self._stream(messages, stop, run_manager, **kwargs))
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])

    def _stream(self, messages: list[BaseMessage], stop: list[str] | None = None,
                run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        import torch
        from transformers import TextIteratorStreamer

        input_ids = self._prompt_ids(messages)
        streamer = TextIteratorStreamer(self.embedder.tokenizer, skip_prompt=True, skip_special_tokens=True)
        args = self._generation_kwargs(input_ids, stop)
        errors: list[BaseException] = []

        decoder = self.embedder.loaded.sequence_decoder

        def work():
            try:
                if decoder is not None:
                    self._decode(decoder, input_ids[0].tolist(), stop, streamer)
                    return
                with torch.inference_mode():
                    self.embedder.loaded.model.generate(**args, streamer=streamer)
            except BaseException as exc:  # surfaced in the caller's thread below
                errors.append(exc)
                streamer.end()

        thread = threading.Thread(target=work, daemon=True)
        thread.start()
        for piece in streamer:
            if not piece:
                continue
            if run_manager:
                run_manager.on_llm_new_token(piece)
            yield ChatGenerationChunk(message=AIMessageChunk(content=piece))
        thread.join()
        if errors:
            raise errors[0]
