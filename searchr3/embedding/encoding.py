"""Turning user texts into prompt token ids, with validation and truncation."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from searchr3.errors import InvalidInputError
from searchr3.model.prompts import Role, frame

MAX_CHARS_PER_TOKEN = 16


def validate_texts(texts: object) -> list[str]:
    """Return ``texts`` as a list of non-blank strings, or raise :class:`InvalidInputError`."""
    if isinstance(texts, (str, bytes)) or not isinstance(texts, Sequence):
        raise InvalidInputError(f"expected a list of strings, got {type(texts).__name__}")
    out = []
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise InvalidInputError(f"text #{i} is a {type(text).__name__}, not a string")
        if not text.strip():
            raise InvalidInputError(f"text #{i} is empty")
        out.append(text)
    return out


@dataclass(frozen=True)
class PromptIds:
    """Token ids of one prompt; ``truncated`` tells whether the user text was cut.

    ``text_tokens`` counts the user text's tokens; for a text far longer than the limit it
    counts only the part that was tokenized before cutting (still more than the limit).
    """

    ids: list[int]
    text_tokens: int
    truncated: bool


class PromptEncoder:
    """Builds ``head + text + tail`` token ids for one prompt role.

    The head and tail are tokenized once; the user text is tokenized alone and cut to
    ``max_text_tokens`` so the tail (and with it the embed token) is never lost.
    """

    def __init__(self, tokenizer, role: Role, max_text_tokens: int):
        self.tokenizer = tokenizer
        self.role = role
        self.max_text_tokens = max_text_tokens
        f = frame(tokenizer, role)
        self.head_ids = self._tokenize(f.head)
        self.tail_ids = self._tokenize(f.tail)

    def _tokenize(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def encode(self, texts: Sequence[str]) -> list[PromptIds]:
        """Prompt ids for each of ``texts`` (already validated)."""
        if not texts:
            return []
        # No token is longer than this many characters in practice: cutting the string
        # first keeps a multi-megabyte text from being tokenized whole.
        char_cap = self.max_text_tokens * MAX_CHARS_PER_TOKEN
        capped = [t[:char_cap] for t in texts]
        out = []
        for text, ids in zip(texts, self.tokenizer(capped, add_special_tokens=False)["input_ids"]):
            cut = ids[: self.max_text_tokens]
            truncated = len(cut) < len(ids) or len(text) > char_cap
            out.append(PromptIds(self.head_ids + cut + self.tail_ids, len(ids), truncated))
        return out
