"""``<|embed_token|>`` in a tokenizer and a model's embedding matrix."""

from __future__ import annotations

import torch

from searchr3.errors import InvalidInputError
from searchr3.model.prompts import EMBED_TOKEN

# The embed-token row starts as the mean embedding of this word's tokens.
_EMBED_INIT_WORD = " embedding"


def add_embed_token(model: torch.nn.Module, tokenizer) -> int:
    """Add ``<|embed_token|>`` as a special token, resizing embeddings; return its id.

    The new row is set deterministically to the mean embedding of the word "embedding",
    so an untrained model gives the same vectors on every load. Idempotent.
    """
    from tokenizers import AddedToken

    if EMBED_TOKEN not in tokenizer.get_vocab():
        tokenizer.add_tokens([AddedToken(EMBED_TOKEN, special=True, normalized=False)], special_tokens=True)
    token_id = tokenizer.convert_tokens_to_ids(EMBED_TOKEN)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    embeddings = model.get_input_embeddings()
    if embeddings.weight.shape[0] <= token_id:
        init_ids = tokenizer(_EMBED_INIT_WORD, add_special_tokens=False)["input_ids"]
        model.resize_token_embeddings(len(tokenizer), mean_resizing=False)
        embeddings = model.get_input_embeddings()
        with torch.no_grad():
            embeddings.weight[token_id] = embeddings.weight[init_ids].mean(dim=0)
            output = model.get_output_embeddings()
            if output is not None and output.weight.data_ptr() != embeddings.weight.data_ptr():
                output.weight[token_id] = output.weight[init_ids].mean(dim=0)
    return token_id


def embed_token_id(tokenizer) -> int:
    """The id of ``<|embed_token|>`` in a tokenizer that has it (see :func:`add_embed_token`)."""
    if EMBED_TOKEN not in tokenizer.get_vocab():
        raise InvalidInputError(
            f"the tokenizer has no {EMBED_TOKEN}: add it with searchr3.model.embed_token.add_embed_token"
        )
    return tokenizer.convert_tokens_to_ids(EMBED_TOKEN)
