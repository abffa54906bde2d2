"""One sequence decoded on the CPU with int8 weights: the path behind a user's reasoning query.

At batch 1 every new token reads all the weights once, so a step costs what reading them
costs. Hugging Face ``generate`` over int8 ``Linear`` modules spends ~30 ms a token on 2 cores:
seven matrix-vector products per layer over short rows, plus the per-module Python of its
model code. :class:`Int8Decoder` runs the same Llama-family computation with four products
per layer (q|k|v and gate|up fused into one int8 matrix each), a key/value cache allocated
once per call, and rotary tables computed once per call. The prompt is prefilled with the
model's own weights (int8 products are slow for many rows at once), from where it parts from
one of the last few prompts (their keys and values are kept: a reasoning prompt's fixed
instructions are read once, not once a query); each new token then goes through the int8
weights. A prompt is read in blocks with fixed edges (positions 0–16, 16–32, 32–64, 64–128, …,
doubling) and copied only up to an edge: a matrix product may round a row differently with a
different number of rows beside it, so a prompt read whole and the same prompt read after a
copied head would otherwise part at a near tie. With fixed edges a position is always computed
beside the same rows, and the same prompt decodes to the same text whatever was asked before.
Vectors never come from here: the embedder re-reads the finished trace with its bfloat16 model,
so the vector space is unchanged.

int8 rounding changes a greedy choice now and then, after which the text goes its own way.
With ``draft=N`` the decoder is built from float32 weights and checks its int8 tokens: the
int8 weights draft N tokens ahead, the float32 weights read them in one pass (reading N rows
costs about what reading one does: the weights dominate), and the drafts are kept up to the
first one float32 would not have chosen, which is replaced by float32's choice. The text is
then float32's own greedy text, at most of int8's speed (speculative decoding with the model's
own int8 copy as the draft).

With ``lookup=N`` (an answer model's decoder) the drafts come from the text instead: the N tokens
that followed the latest earlier occurrence of the last three (an answer copying a command out of
its passages: prompt lookup decoding). They are read with the token before them in one int8 pass
(a few rows cost little more than one) and kept while int8 chooses them too.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from searchr3.model.precision import quantize_int8
from searchr3.model.threads import fit_threads

KEPT_PROMPTS = 4  # recent prompts whose keys and values a new prompt may start from
KEPT_TOKENS = 512  # of each, at most this many leading positions (~46 KB a position for SmolLM2-135M)
FIRST_EDGE = 16  # the first prompt block's end; each later block ends at twice its start


def block_edge(tokens: int) -> int:
    """The last fixed block edge at or before ``tokens``: where a copied prompt head may end."""
    return 0 if tokens < FIRST_EDGE else 1 << (tokens.bit_length() - 1)


def prompt_blocks(start: int, end: int) -> list[tuple[int, int]]:
    """The fixed blocks that read positions ``start..end-1`` (``start`` on an edge)."""
    if start != block_edge(start):
        raise ValueError(f"a prompt read starts on a block edge, not at {start}")
    blocks = []
    while start < end:
        stop = min(end, max(FIRST_EDGE, 2 * start))
        blocks.append((start, stop))
        start = stop
    return blocks


def supports(model: torch.nn.Module) -> bool:
    """Whether :class:`Int8Decoder` can run ``model``: a bfloat16 or float32 Llama-architecture
    causal LM (no projection biases, SiLU MLP), or a Qwen2 one (biases on q, k and v only, no
    sliding window), on the CPU. Others decode through ``generate``."""
    config = getattr(model, "config", None)
    kind = getattr(config, "model_type", None)
    if kind not in ("llama", "qwen2"):
        return False
    param = next(model.parameters())
    return (
        param.device.type == "cpu"
        and param.dtype in (torch.bfloat16, torch.float32)
        and not (kind == "llama" and getattr(config, "attention_bias", False))
        and not (kind == "qwen2" and getattr(config, "use_sliding_window", False))
        and not getattr(config, "mlp_bias", False)
        and getattr(config, "hidden_act", "silu") == "silu"
        and hasattr(model, "model")
        and hasattr(model.model, "rotary_emb")
    )


def _qkv_bias(attn) -> torch.Tensor | None:
    """The q|k|v biases of an attention block as one vector (``None`` without biases)."""
    biases = [getattr(attn, name).bias for name in ("q_proj", "k_proj", "v_proj")]
    if all(b is None for b in biases):
        return None
    dtype = attn.q_proj.weight.dtype
    return torch.cat([b.detach() if b is not None else torch.zeros(getattr(attn, n).out_features, dtype=dtype)
                      for b, n in zip(biases, ("q_proj", "k_proj", "v_proj"))])


@dataclass(frozen=True)
class _Int8Matrix:
    weight: torch.Tensor  # int8 [N, K]
    scale: torch.Tensor  # bfloat16 [N]

    @classmethod
    def of(cls, *weights: torch.Tensor) -> _Int8Matrix:
        """One int8 matrix of the row-stacked ``weights`` (one scale per output row)."""
        return cls(*quantize_int8(torch.cat([w.detach() for w in weights])))

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """``x @ W.T`` for bfloat16 ``x`` ``[rows, K]``."""
        return torch._weight_int8pack_mm(x, self.weight, self.scale)


@dataclass(frozen=True)
class _Layer:
    norm_in: torch.Tensor
    norm_mid: torch.Tensor
    # bfloat16 norm gains for the int8 steps (the same tensors when the model is bfloat16)
    norm_in16: torch.Tensor
    norm_mid16: torch.Tensor
    # the model's own weights (shared, not copied), for the prompt and for checking drafts
    q: torch.Tensor
    k: torch.Tensor
    v: torch.Tensor
    o: torch.Tensor
    gate: torch.Tensor
    up: torch.Tensor
    down: torch.Tensor
    # int8 copies, for one token at a time
    qkv8: _Int8Matrix
    o8: _Int8Matrix
    gate_up8: _Int8Matrix
    down8: _Int8Matrix
    # q|k|v biases (Qwen2), in the model's precision and in bfloat16; None for Llama
    qkv_bias: torch.Tensor | None = None
    qkv_bias16: torch.Tensor | None = None


class Int8Decoder:
    """Greedy or sampled decoding of one sequence from a (merged, bfloat16 or float32, CPU)
    Llama or Qwen2 model.

    Built once per model (~1 s; the int8 copies take about half the bytes of the bfloat16
    weights). ``draft``: greedy decoding drafts this many int8 tokens ahead and keeps only those
    the model's own weights choose too (0: int8 alone). Safe to call from several threads:
    every call owns its cache.
    """

    def __init__(self, model: torch.nn.Module, draft: int = 0, lookup: int = 0):
        if not supports(model):
            raise ValueError("Int8Decoder needs a bfloat16 or float32 Llama or Qwen2 model on the CPU")
        if draft < 0 or lookup < 0:
            raise ValueError("draft and lookup must be 0 or more")
        if draft and lookup:
            raise ValueError("a decoder drafts with its int8 weights (draft) or from the text (lookup), not both")
        self.draft, self.lookup = draft, lookup
        self._kept: list[tuple[tuple[int, ...], torch.Tensor, torch.Tensor]] = []  # newest first
        self._kept_lock = threading.Lock()
        config = model.config
        self.heads = config.num_attention_heads
        self.kv_heads = config.num_key_value_heads
        self.head_dim = getattr(config, "head_dim", None) or config.hidden_size // self.heads
        self.hidden, self.intermediate = config.hidden_size, config.intermediate_size
        self.eps = config.rms_norm_eps
        self.rotary = model.model.rotary_emb
        self.embed = model.get_input_embeddings().weight
        self.norm = model.model.norm.weight
        # int8 steps run in bfloat16 whatever the model's own precision (no casts per product)
        self.embed16, self.norm16 = _bf16(self.embed), _bf16(self.norm)
        head = model.get_output_embeddings().weight
        self.head = head  # the model's own, for the prompt and for checking drafts
        self.head8 = _Int8Matrix.of(head)
        self.layers = []
        for layer in model.model.layers:
            attn, mlp = layer.self_attn, layer.mlp
            bias = _qkv_bias(attn)
            self.layers.append(_Layer(
                layer.input_layernorm.weight, layer.post_attention_layernorm.weight,
                _bf16(layer.input_layernorm.weight), _bf16(layer.post_attention_layernorm.weight),
                attn.q_proj.weight, attn.k_proj.weight, attn.v_proj.weight, attn.o_proj.weight,
                mlp.gate_proj.weight, mlp.up_proj.weight, mlp.down_proj.weight,
                _Int8Matrix.of(attn.q_proj.weight, attn.k_proj.weight, attn.v_proj.weight),
                _Int8Matrix.of(attn.o_proj.weight),
                _Int8Matrix.of(mlp.gate_proj.weight, mlp.up_proj.weight),
                _Int8Matrix.of(mlp.down_proj.weight),
                bias, _bf16(bias) if bias is not None else None,
            ))

    def _rms(self, x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        # as Llama's RMSNorm: statistics in float32, the scaled result cast back, then the gain
        xf = x.float()
        return (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)).to(x.dtype) * weight

    def _rope(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        half = x.shape[-1] // 2
        return x * cos + torch.cat([-x[..., half:], x[..., :half]], -1) * sin

    def _forward(self, ids: torch.Tensor, start: int, cache: tuple[torch.Tensor, torch.Tensor],
                 cos: torch.Tensor, sin: torch.Tensor, every_row: bool = False) -> torch.Tensor:
        """Logits after ``ids`` (``[T]``) at positions ``start..start+T-1``, through the model's
        own weights (a prompt, or drafts being checked): ``[1, vocab]`` for the last row, or
        ``[T, vocab]`` with ``every_row``."""
        keys, values = cache
        count = ids.shape[0]
        end = start + count
        heads, kv_heads, dim = self.heads, self.kv_heads, self.head_dim
        cos, sin = cos[start:end, None, :], sin[start:end, None, :]
        # rows see every earlier position: causal from the start, or a band after a cached part
        mask = None if count == 1 or start == 0 else torch.ones(count, end, dtype=torch.bool).tril(start)
        h = self.embed[ids]
        for i, layer in enumerate(self.layers):
            x = self._rms(h, layer.norm_in)
            qkv = torch.cat([F.linear(x, layer.q), F.linear(x, layer.k), F.linear(x, layer.v)], -1)
            if layer.qkv_bias is not None:
                qkv = qkv + layer.qkv_bias
            qk = self._rope(qkv[:, : (heads + kv_heads) * dim].view(count, heads + kv_heads, dim), cos, sin)
            keys[i, :, start:end] = qk[:, heads:].transpose(0, 1)
            values[i, :, start:end] = qkv[:, (heads + kv_heads) * dim :].view(count, kv_heads, dim).transpose(0, 1)
            q = qk[:, :heads].transpose(0, 1).unsqueeze(0).float()
            att = F.scaled_dot_product_attention(
                q, keys[i, None, :, :end], values[i, None, :, :end], attn_mask=mask,
                is_causal=count > 1 and start == 0, enable_gqa=True,
            )
            h = h + F.linear(att[0].transpose(0, 1).reshape(count, heads * dim).to(h.dtype), layer.o)
            x = self._rms(h, layer.norm_mid)
            h = h + F.linear(F.silu(F.linear(x, layer.gate)) * F.linear(x, layer.up), layer.down)
        return F.linear(self._rms(h if every_row else h[-1:], self.norm), self.head)

    def _step(self, token: int, position: int, cache: tuple[torch.Tensor, torch.Tensor],
              cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        """Logits ``[1, vocab]`` after one token at ``position``, through the int8 weights with
        bfloat16 activations (on 2 cores ~10 ms of a ~15 ms step is the int8 products)."""
        return self._steps([token], position, cache, cos, sin)

    def _steps(self, tokens: Sequence[int], position: int, cache: tuple[torch.Tensor, torch.Tensor],
               cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        """Logits ``[T, vocab]`` after each of ``tokens`` (``T`` of them, a handful) at
        ``position..position+T-1``, through the int8 weights (``T`` rows cost little more than one:
        reading the weights dominates)."""
        keys, values = cache
        heads, kv_heads, dim, width = self.heads, self.kv_heads, self.head_dim, self.hidden
        split = (heads + kv_heads) * dim
        count = len(tokens)
        end = position + count
        cos, sin = cos[position:end, None], sin[position:end, None]
        mask = None if count == 1 else torch.ones(count, end, dtype=torch.bool).tril(position)
        h = self.embed16[torch.tensor(list(tokens))]
        for i, layer in enumerate(self.layers):
            qkv = layer.qkv8(F.rms_norm(h, (width,), layer.norm_in16, self.eps))
            if layer.qkv_bias16 is not None:
                qkv = qkv + layer.qkv_bias16
            qk = self._rope(qkv[:, :split].view(count, heads + kv_heads, dim), cos, sin)
            keys[i, :, position:end] = qk[:, heads:].transpose(0, 1)
            values[i, :, position:end] = qkv[:, split:].view(count, kv_heads, dim).transpose(0, 1)
            att = F.scaled_dot_product_attention(
                qk[:, :heads].transpose(0, 1)[None].float(), keys[i, None, :, :end], values[i, None, :, :end],
                attn_mask=mask, enable_gqa=True,
            )
            h = h + layer.o8(att[0].transpose(0, 1).reshape(count, heads * dim).to(torch.bfloat16))
            gate_up = layer.gate_up8(F.rms_norm(h, (width,), layer.norm_mid16, self.eps))
            h = h + layer.down8(F.silu(gate_up[:, : self.intermediate]) * gate_up[:, self.intermediate :])
        return self.head8(F.rms_norm(h, (width,), self.norm16, self.eps))

    def shared_prompt_tokens(self, prompt_ids: Sequence[int]) -> int:
        """How many leading tokens of ``prompt_ids`` a call would copy from a recent prompt's
        keys and values instead of reading (at least one token is always read)."""
        return self._recent(list(prompt_ids))[0]

    def _recent(self, prompt: list[int]) -> tuple[int, tuple | None]:
        with self._kept_lock:
            kept = list(self._kept)
        length, entry = max(((_common_length(e[0], prompt), e) for e in kept), key=lambda p: p[0], default=(0, None))
        return block_edge(min(length, len(prompt) - 1)), entry

    def _read(self, ids: Sequence[int], start: int, cache: tuple[torch.Tensor, torch.Tensor],
              cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        """Logits ``[1, vocab]`` after ``ids[start:]``, read block by block (:func:`prompt_blocks`)."""
        logits = None
        for first, stop in prompt_blocks(start, len(ids)):
            logits = self._forward(torch.tensor(list(ids[first:stop])), first, cache, cos, sin)
        return logits

    def _prefill(self, prompt: list[int], cache: tuple[torch.Tensor, torch.Tensor],
                 cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        """Logits ``[1, vocab]`` after the prompt, read through the model's own weights from
        where it parts from the most similar recent prompt (a reasoning prompt's fixed
        instructions, a chat's system turn; up to a block edge), and kept for the prompts that follow."""
        keys, values = cache
        reused, entry = self._recent(prompt)
        if reused:
            keys[:, :, :reused], values[:, :, :reused] = entry[1][:, :, :reused], entry[2][:, :, :reused]
        logits = self._read(prompt, reused, cache, cos, sin)
        ids = tuple(prompt[:KEPT_TOKENS])
        if entry is None or entry[0] != ids:
            mine = (ids, keys[:, :, : len(ids)].clone(), values[:, :, : len(ids)].clone())
            with self._kept_lock:
                self._kept = [mine, *(e for e in self._kept if e[0] != ids)][:KEPT_PROMPTS]
        return logits

    def _start(self, total: int):
        """An empty cache and the rotary tables for ``total`` positions."""
        shape = (len(self.layers), self.kv_heads, total, self.head_dim)
        # float32 keys and values: attention over them is ~4x cheaper on the CPU than in bfloat16
        cache = (torch.empty(shape), torch.empty(shape))
        cos, sin = self.rotary(self.embed[:1][None], torch.arange(total)[None])
        return cache, cos[0].to(self.embed.dtype), sin[0].to(self.embed.dtype)

    @torch.inference_mode()
    def stepwise_logits(self, ids: Sequence[int], prompt_tokens: int) -> torch.Tensor:
        """Float32 logits ``[len(ids) - prompt_tokens + 1, vocab]`` for the token after each of
        ``ids[prompt_tokens - 1:]``, computed as generation computes them: the first
        ``prompt_tokens`` ids prefilled block by block, then one id at a time through the int8 weights
        (to compare this decoder with the model on real text)."""
        if not 1 <= prompt_tokens <= len(ids):
            raise ValueError("prompt_tokens must be between 1 and len(ids)")
        cache, cos, sin = self._start(len(ids))
        rows = [self._read(ids[:prompt_tokens], 0, cache, cos, sin)]
        rows += [self._step(ids[pos], pos, cache, cos, sin) for pos in range(prompt_tokens, len(ids))]
        return torch.cat(rows).float()

    @torch.inference_mode()
    def generate(
        self,
        prompt_ids: Sequence[int],
        max_new_tokens: int,
        stop_ids: Sequence[int] = (),
        *,
        suppress_ids: Sequence[int] = (),
        temperature: float = 0.0,
        top_p: float = 1.0,
        on_token: Callable[[int], bool | None] | None = None,
    ) -> list[int]:
        """New token ids after ``prompt_ids``: up to ``max_new_tokens``, ending with the first
        of ``stop_ids`` if one comes. Greedy when ``temperature`` is 0 (checked by the model's own
        weights when the decoder has a ``draft``), else sampled (with ``top_p`` nucleus filtering)
        from torch's global generator. ``on_token`` sees each new id; returning True stops after
        it. ``suppress_ids`` are never chosen."""
        if not prompt_ids:
            raise ValueError("the prompt is empty")
        fit_threads()
        cache, cos, sin = self._start(len(prompt_ids) + max_new_tokens)
        stops = set(stop_ids)
        suppress = torch.tensor(list(suppress_ids), dtype=torch.long) if suppress_ids else None
        logits = self._prefill(list(prompt_ids), cache, cos, sin)
        token = _choose(logits[0], temperature, top_p, suppress)
        checked = temperature <= 0 and self.draft > 0
        looking = temperature <= 0 and self.lookup > 0
        out: list[int] = []
        position = len(prompt_ids)  # where ``token`` goes when it is read

        def ends(token: int) -> bool:
            out.append(token)
            return (on_token is not None and on_token(token)) or token in stops or len(out) == max_new_tokens

        def room() -> int:  # drafts that fit before max_new_tokens (the token after them comes too)
            return max_new_tokens - len(out) - 1

        while not ends(token):
            drafts = looked_up_drafts([*prompt_ids, *out], min(self.lookup, room())) if looking else []
            if checked or drafts:  # several tokens a pass
                more = (self._checked(token, position, min(self.draft, room()), stops, suppress, cache, cos, sin)
                        if checked else self._kept_drafts(token, drafts, position, suppress, cache, cos, sin))
                if any(ends(t) for t in more[:-1]):
                    break
                position, token = position + len(more), more[-1]
            else:
                logits = self._step(token, position, cache, cos, sin)
                position, token = position + 1, _choose(logits[0], temperature, top_p, suppress)
        return out

    def _kept_drafts(self, token: int, drafts: list[int], position: int, suppress: torch.Tensor | None,
                     cache, cos, sin) -> list[int]:
        """The tokens int8 chooses after ``token`` (read here, at ``position``): ``drafts`` (looked up
        in the text), read with ``token`` in one int8 pass and kept while int8 chooses them, then its
        own next choice (not yet read)."""
        chosen = [_choose(row, 0.0, 1.0, suppress) for row in self._steps([token, *drafts], position, cache, cos, sin)]
        kept = next((i for i, (d, c) in enumerate(zip(drafts, chosen)) if d != c), len(drafts))
        return [*drafts[:kept], chosen[kept]]

    def _checked(self, token: int, position: int, draft: int, stops: set[int], suppress: torch.Tensor | None,
                 cache, cos, sin) -> list[int]:
        """The tokens the model's own weights choose after ``token`` (read here, at ``position``):
        up to ``draft`` int8 drafts, read with ``token`` in one exact pass and kept while the
        model chooses them too, then the model's own next choice (not yet read)."""
        drafts: list[int] = []
        last = token
        for offset in range(draft):
            logits = self._step(last, position + offset, cache, cos, sin)
            last = _choose(logits[0], 0.0, 1.0, suppress)
            drafts.append(last)
            if last in stops:
                break
        rows = self._forward(torch.tensor([token, *drafts]), position, cache, cos, sin, every_row=True)
        chosen = [_choose(row, 0.0, 1.0, suppress) for row in rows]
        kept = next((i for i, (d, c) in enumerate(zip(drafts, chosen)) if d != c), len(drafts))
        return [*drafts[:kept], chosen[kept]]


LOOKUP_NGRAM = 3  # a lookup draft follows an earlier occurrence of the last this-many tokens


def looked_up_drafts(ids: Sequence[int], most: int, ngram: int = LOOKUP_NGRAM) -> list[int]:
    """Up to ``most`` tokens that followed the latest earlier occurrence of ``ids``' last ``ngram``
    tokens (none when they did not occur before: prompt lookup decoding's draft)."""
    if most <= 0 or len(ids) <= ngram:
        return []
    tail = list(ids[-ngram:])
    for start in range(len(ids) - ngram - 1, -1, -1):
        if ids[start] == tail[0] and list(ids[start : start + ngram]) == tail:
            return list(ids[start + ngram : start + ngram + most])
    return []


def _common_length(a: Sequence[int], b: Sequence[int]) -> int:
    n = min(len(a), len(b))
    return next((i for i in range(n) if a[i] != b[i]), n)


def _bf16(weight: torch.Tensor) -> torch.Tensor:
    return weight.detach() if weight.dtype == torch.bfloat16 else weight.detach().to(torch.bfloat16)


def _choose(logits: torch.Tensor, temperature: float, top_p: float, suppress: torch.Tensor | None) -> int:
    """The next token from one row of logits, as ``generate`` chooses it (greedy, or
    temperature then top-p sampling)."""
    logits = logits.float()
    if suppress is not None:
        logits[suppress] = float("-inf")
    if temperature <= 0:
        return int(logits.argmax())
    logits = logits / temperature
    if top_p < 1.0:
        ordered, order = logits.sort()
        cumulative = ordered.softmax(-1).cumsum(-1)
        drop = cumulative <= 1 - top_p
        drop[-1] = False  # keep at least the most likely token
        logits[order[drop]] = float("-inf")
    return int(torch.multinomial(logits.softmax(-1), 1))
