"""Every prompt the model sees, in one place.

The embedding is read at :data:`EMBED_TOKEN`, the last token of each prompt built here.
Changing any template here changes what the vectors mean: bump :data:`PROMPT_VERSION`,
which is part of the model fingerprint, so that old indexes are refused rather than mixed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

EMBED_TOKEN = "<|embed_token|>"
PROMPT_VERSION = "1"

Role = Literal["query", "document", "reasoning"]

QUERY_SYSTEM = "Please represent user queries."
DOCUMENT_SYSTEM = "Please represent the passage for retrieval."
REASONING_SYSTEM = (
    "Please represent user queries. First write a short analysis of what the user needs "
    "and which terms a relevant passage would contain, then finish with the sentence "
    "'The embedding is' followed by the embedding token."
)
# What the assistant says right before the embed token.
EMBED_LEAD = "The embedding is "
EMBED_SUFFIX = EMBED_LEAD + EMBED_TOKEN

SYSTEM_BY_ROLE: dict[str, str] = {
    "query": QUERY_SYSTEM,
    "document": DOCUMENT_SYSTEM,
    "reasoning": REASONING_SYSTEM,
}

# Stands in for the user text when rendering a template, so the rendered string can be
# split into a fixed head and tail that are tokenized once.
_SLOT = "\u2063SEARCHR3_TEXT_SLOT\u2063"


@dataclass(frozen=True)
class PromptFrame:
    """A chat prompt split around the user text: ``head + text + tail``.

    For ``query`` and ``document`` the tail ends with the embed token; for ``reasoning``
    the tail opens the assistant turn and generation continues from there.
    """

    head: str
    tail: str


def _render(tokenizer, system: str) -> tuple[str, str]:
    messages = [{"role": "system", "content": system}, {"role": "user", "content": _SLOT}]
    if getattr(tokenizer, "chat_template", None):
        rendered = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    else:  # a base model without a chat template: a plain, readable layout
        rendered = f"System: {system}\nUser: {_SLOT}\nAssistant: "
    head, sep, tail = rendered.partition(_SLOT)
    if not sep:
        raise ValueError("the chat template dropped the user message")
    return head, tail


def frame(tokenizer, role: Role) -> PromptFrame:
    """Return the prompt frame for ``role`` rendered with ``tokenizer``'s chat template."""
    head, tail = _render(tokenizer, SYSTEM_BY_ROLE[role])
    if role == "reasoning":
        return PromptFrame(head, tail)
    return PromptFrame(head, tail + EMBED_SUFFIX)
