"""One sequence decoded on the CPU with int8 weights: the path behind a user's reasoning query.

At batch 1 every new token reads all the weights once, so a step costs what reading them
costs. Hugging Face ``generate`` over int8 ``Linear`` modules spends ~30 ms a token on 2 cores:
seven matrix-vector products per layer over short rows, plus the per-module Python of its
model code. :class:`Int8Decoder` runs the same Llama-family computation with four products
per layer (q|k|v and gate|up fused into one int8 matrix each), a key/value cache allocated
once per call, and rotary tables computed once per call. The prompt is prefilled with the
model's own bfloat16 weights (int8 products are slow for many rows at once); each new token
then goes through the int8 weights. Vectors never come from here: the embedder re-reads the
finished trace with its bfloat16 model, so the vector space is unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .precision import quantize_int8


def supports(model: torch.nn.Module) -> bool:
    """Whether :class:`Int8Decoder` can run ``model``: a bfloat16 Llama-architecture causal LM
    (no projection biases, SiLU MLP) on the CPU. Others decode through ``generate``."""
    config = getattr(model, "config", None)
    if config is None or getattr(config, "model_type", None) != "llama":
        return False
    param = next(model.parameters())
    return (
        param.device.type == "cpu"
        and param.dtype == torch.bfloat16
        and not getattr(config, "attention_bias", False)
        and not getattr(config, "mlp_bias", False)
        and getattr(config, "hidden_act", "silu") == "silu"
        and hasattr(model, "model")
        and hasattr(model.model, "rotary_emb")
    )


@dataclass(frozen=True)
class _Int8Matrix:
    weight: torch.Tensor  # int8 [N, K]
    scale: torch.Tensor  # bfloat16 [N]

    @classmethod
    def of(cls, *weights: torch.Tensor) -> _Int8Matrix:
        """One int8 matrix of the row-stacked ``weights`` (one scale per output row)."""
        return cls(*quantize_int8(torch.cat([w.detach() for w in weights])))

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return torch._weight_int8pack_mm(x, self.weight, self.scale)


@dataclass(frozen=True)
class _Layer:
    norm_in: torch.Tensor
    norm_mid: torch.Tensor
    # bfloat16 weights of the model (shared, not copied), for the prompt
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


class Int8Decoder:
    """Greedy or sampled decoding of one sequence from a (merged, bfloat16, CPU) Llama model.

    Built once per model (~1 s; the int8 copies take about half the bytes of the bfloat16
    weights). Safe to call from several threads: every call owns its cache.
    """

    def __init__(self, model: torch.nn.Module):
        if not supports(model):
            raise ValueError("Int8Decoder needs a bfloat16 Llama-architecture model on the CPU")
        config = model.config
        self.heads = config.num_attention_heads
        self.kv_heads = config.num_key_value_heads
        self.head_dim = getattr(config, "head_dim", None) or config.hidden_size // self.heads
        self.intermediate = config.intermediate_size
        self.eps = config.rms_norm_eps
        self.rotary = model.model.rotary_emb
        self.embed = model.get_input_embeddings().weight
        self.norm = model.model.norm.weight
        head = model.get_output_embeddings().weight
        self.head = head  # bfloat16, for the prompt's last position
        self.head8 = _Int8Matrix.of(head)
        self.layers = []
        for layer in model.model.layers:
            attn, mlp = layer.self_attn, layer.mlp
            self.layers.append(_Layer(
                layer.input_layernorm.weight, layer.post_attention_layernorm.weight,
                attn.q_proj.weight, attn.k_proj.weight, attn.v_proj.weight, attn.o_proj.weight,
                mlp.gate_proj.weight, mlp.up_proj.weight, mlp.down_proj.weight,
                _Int8Matrix.of(attn.q_proj.weight, attn.k_proj.weight, attn.v_proj.weight),
                _Int8Matrix.of(attn.o_proj.weight),
                _Int8Matrix.of(mlp.gate_proj.weight, mlp.up_proj.weight),
                _Int8Matrix.of(mlp.down_proj.weight),
            ))

    def _rms(self, x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        # as Llama's RMSNorm: statistics in float32, the scaled result cast back, then the gain
        xf = x.float()
        return (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)).to(x.dtype) * weight

    def _rope(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        half = x.shape[-1] // 2
        return x * cos + torch.cat([-x[..., half:], x[..., :half]], -1) * sin

    def _forward(self, ids: torch.Tensor, start: int, cache: tuple[torch.Tensor, torch.Tensor],
                 cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        """Logits ``[1, vocab]`` after ``ids`` (``[T]``) at positions ``start..start+T-1``."""
        keys, values = cache
        count = ids.shape[0]
        end = start + count
        prompt = count > 1  # many rows: bfloat16 products; one row: int8
        heads, kv_heads, dim = self.heads, self.kv_heads, self.head_dim
        cos, sin = cos[start:end, None, :], sin[start:end, None, :]
        h = self.embed[ids]
        for i, layer in enumerate(self.layers):
            x = self._rms(h, layer.norm_in)
            if prompt:
                qkv = torch.cat([F.linear(x, layer.q), F.linear(x, layer.k), F.linear(x, layer.v)], -1)
            else:
                qkv = layer.qkv8(x)
            qk = self._rope(qkv[:, : (heads + kv_heads) * dim].view(count, heads + kv_heads, dim), cos, sin)
            keys[i, :, start:end] = qk[:, heads:].transpose(0, 1)
            values[i, :, start:end] = qkv[:, (heads + kv_heads) * dim :].view(count, kv_heads, dim).transpose(0, 1)
            q = qk[:, :heads].transpose(0, 1).unsqueeze(0).float()
            att = F.scaled_dot_product_attention(
                q, keys[i, None, :, :end], values[i, None, :, :end], is_causal=prompt, enable_gqa=True
            )
            att = att[0].transpose(0, 1).reshape(count, heads * dim).to(h.dtype)
            h = h + (F.linear(att, layer.o) if prompt else layer.o8(att))
            x = self._rms(h, layer.norm_mid)
            if prompt:
                mixed = F.silu(F.linear(x, layer.gate)) * F.linear(x, layer.up)
                h = h + F.linear(mixed, layer.down)
            else:
                gate_up = layer.gate_up8(x)
                h = h + layer.down8(F.silu(gate_up[:, : self.intermediate]) * gate_up[:, self.intermediate :])
        last = self._rms(h[-1:], self.norm)
        return F.linear(last, self.head) if prompt else self.head8(last)

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
        ``prompt_tokens`` ids prefilled at once, then one id at a time through the int8 weights
        (to compare this decoder with the model on real text)."""
        if not 1 <= prompt_tokens <= len(ids):
            raise ValueError("prompt_tokens must be between 1 and len(ids)")
        cache, cos, sin = self._start(len(ids))
        rows = [self._forward(torch.tensor(list(ids[:prompt_tokens])), 0, cache, cos, sin)]
        for pos in range(prompt_tokens, len(ids)):
            rows.append(self._forward(torch.tensor([ids[pos]]), pos, cache, cos, sin))
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
        of ``stop_ids`` if one comes. Greedy when ``temperature`` is 0, else sampled (with
        ``top_p`` nucleus filtering) from torch's global generator. ``on_token`` sees each new
        id; returning True stops after it. ``suppress_ids`` are never chosen."""
        if not prompt_ids:
            raise ValueError("the prompt is empty")
        cache, cos, sin = self._start(len(prompt_ids) + max_new_tokens)
        stops = set(stop_ids)
        suppress = torch.tensor(list(suppress_ids), dtype=torch.long) if suppress_ids else None
        logits = self._forward(torch.tensor(list(prompt_ids)), 0, cache, cos, sin)
        out: list[int] = []
        for step in range(max_new_tokens):
            token = _choose(logits[0], temperature, top_p, suppress)
            out.append(token)
            if (on_token is not None and on_token(token)) or token in stops or step == max_new_tokens - 1:
                break
            logits = self._forward(torch.tensor([token]), len(prompt_ids) + step, cache, cos, sin)
        return out


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
