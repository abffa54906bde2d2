"""ONNX Runtime int8 for document embedding, against torch float32 and the shipped path: the
second int8 route the speed issue named. Exports the merged model's backbone to ONNX in float32,
quantizes it with ONNX Runtime's dynamic int8 (int8 weights per output channel, activations
quantized per batch), then prints doc tokens/s by batch size, each path's cosine to torch float32
on the same passages and (``--dev``) dev nDCG@10 — all from one run.

    ./run python -m pip install onnx      # the exporter's dependency; not one of searchr3's
    ./run python -m bench.onnx_int8 [--passages 64] [--tokens 128] [--dev data/pyfaq]

The exports are kept under ``--cache`` (``data/onnx``), so a second run skips them.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from rich.console import Console
from rich.table import Table

from bench.corpus import stdlib_passages
from bench.embed import median_seconds, passage_options
from searchr3 import Embedder, ModelConfig
from searchr3.embedding.batching import pad_right, token_budget_batches
from searchr3.embedding.readout import vectors_from_hidden


class _Backbone(torch.nn.Module):
    """input ids and mask → final (post-norm) hidden states, as ``searchr3.embedding.readout`` reads them."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.decoder = model.get_decoder()

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.decoder(input_ids=input_ids, attention_mask=attention_mask, use_cache=False).last_hidden_state


def export(embedder: Embedder, folder: Path, console: Console) -> tuple[Path, Path]:
    """The float32 ONNX export of ``embedder``'s backbone and its dynamic-int8 quantization."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    folder.mkdir(parents=True, exist_ok=True)
    fp32, int8 = folder / "backbone-fp32.onnx", folder / "backbone-int8.onnx"
    if not fp32.exists():
        start = time.perf_counter()
        ids, mask = pad_right([embedder.tokenizer("a short example")["input_ids"]] * 2, 0)
        torch.onnx.export(
            _Backbone(embedder.loaded.model).eval(), (ids, mask), str(fp32), dynamo=False, opset_version=17,
            input_names=["input_ids", "attention_mask"], output_names=["hidden"],
            dynamic_axes={"input_ids": {0: "batch", 1: "tokens"}, "attention_mask": {0: "batch", 1: "tokens"},
                          "hidden": {0: "batch", 1: "tokens"}},
        )
        console.print(f"exported {fp32} in {time.perf_counter() - start:.1f} s")
    if not int8.exists():
        start = time.perf_counter()
        quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QInt8, per_channel=True)
        console.print(f"quantized {int8} in {time.perf_counter() - start:.1f} s")
    return fp32, int8


class OrtEmbedder:
    """Document and query vectors from an ONNX backbone, with the embedder's own prompts and batches."""

    def __init__(self, path: Path, like: Embedder):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = torch.get_num_threads()
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.like = like

    def _vectors(self, role: str, texts: list[str]) -> np.ndarray:
        prompts = [p.ids for p in self.like._encoders[role].encode(texts)]
        out = np.zeros((len(texts), self.like.dim), dtype=np.float32)
        budget, max_batch = self.like.config.token_budget, self.like.config.max_batch_size
        for batch in token_budget_batches([len(p) for p in prompts], budget, max_batch):
            ids, mask = pad_right([prompts[i] for i in batch], self.like._pad_id)
            hidden = self.session.run(["hidden"], {"input_ids": ids.numpy(), "attention_mask": mask.numpy()})[0]
            out[batch] = vectors_from_hidden(torch.from_numpy(hidden), ids, self.like.loaded.embed_token_id).numpy()
        return out

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        return self._vectors("document", texts)

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return self._vectors("query", texts)


def dev_ndcg(embed_documents, embed_queries, folder: str) -> float:
    """nDCG@10 of plain dense search on a BEIR folder with the given embedding functions."""
    from searchr3.eval.beir import load_beir
    from searchr3.eval.metrics import evaluate

    data = load_beir(folder)
    doc_ids, q_ids = list(data.corpus), list(data.queries)
    docs = embed_documents([data.doc_text(d) for d in doc_ids])
    queries = embed_queries([data.queries[q] for q in q_ids])
    order = np.argsort(-(queries @ docs.T), axis=1)[:, :10]
    return evaluate({q: [doc_ids[j] for j in row] for q, row in zip(q_ids, order)}, data.qrels)["ndcg@10"]


def main() -> None:
    ap = passage_options(__doc__.splitlines()[0])
    ap.add_argument("--dev", default=None, help="a BEIR folder (e.g. data/pyfaq) for nDCG@10 per path")
    ap.add_argument("--cache", default="data/onnx", help="where the ONNX exports are kept")
    args = ap.parse_args()
    try:
        import onnx  # noqa: F401  (the exporter needs it)
    except ImportError:
        raise SystemExit("error: this benchmark needs the onnx package: ./run python -m pip install onnx") from None

    console = Console(width=150)
    limit = max(ModelConfig.max_document_tokens, args.tokens + 16)
    reference = Embedder.load(ModelConfig(precision="float32", max_document_tokens=limit, reuse_prompt_heads=False))
    shipped = Embedder.load(ModelConfig(max_document_tokens=limit))
    fp32_path, int8_path = export(reference, Path(args.cache), console)
    paths = {
        "torch float32 (reference)": reference,
        f"torch {shipped.loaded.precision} + stored heads (shipped)": shipped,
        "ONNX Runtime float32": OrtEmbedder(fp32_path, reference),
        "ONNX Runtime dynamic int8": OrtEmbedder(int8_path, reference),
    }
    passages = stdlib_passages(reference.tokenizer, args.passages, args.tokens)
    doc_tokens = sum(len(reference.tokenizer(p, add_special_tokens=False)["input_ids"]) for p in passages)
    sizes = [int(b) for b in args.batch_sizes.split(",")]
    table = Table(title=f"document embedding: torch vs ONNX Runtime (median of {args.repeats} runs, "
                        f"{len(passages)} passages, {doc_tokens} tokens)")
    for col in ("path", *(f"doc tok/s @ batch {b}" for b in sizes), "× reference", "cos mean", "cos min"):
        table.add_column(col, justify="left" if col == "path" else "right")
    if args.dev:
        table.add_column(f"nDCG@10 {args.dev}", justify="right")
    ref_vectors, ref_speed = reference.embed_documents(passages), None
    for name, path in paths.items():
        vectors = path.embed_documents(passages)  # also the warm-up
        speeds = []
        for b in sizes:  # the batches bench.embed uses
            with _batches(path, b, args.tokens):
                speeds.append(doc_tokens / median_seconds(lambda p=path: p.embed_documents(passages), args.repeats))
        ref_speed = ref_speed or speeds
        cosines = (vectors * ref_vectors).sum(1)
        row = [name, *(f"{s:.0f}" for s in speeds), " / ".join(f"{s / r:.2f}" for s, r in zip(speeds, ref_speed)),
               f"{cosines.mean():.4f}", f"{cosines.min():.4f}"]
        if args.dev:
            row.append(f"{dev_ndcg(path.embed_documents, path.embed_queries, args.dev):.4f}")
        table.add_row(*row)
        console.print(f"measured {name}")
    console.print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    console.print(table)


@contextmanager
def _batches(path: Embedder | OrtEmbedder, batch: int, tokens: int):
    """Within the block, ``path`` embeds at most ``batch`` passages a forward pass."""
    owner = path.like if isinstance(path, OrtEmbedder) else path
    saved = owner.config
    owner.config = saved.with_(max_batch_size=batch, token_budget=max(batch * (tokens + 64), 4096))
    try:
        yield
    finally:
        owner.config = saved


if __name__ == "__main__":
    main()
