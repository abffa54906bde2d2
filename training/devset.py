"""Dev-set metrics of a saved adapter, for the end of a training run."""

from __future__ import annotations

from pathlib import Path

from searchr3.config import DEFAULT_MODEL, ModelConfig


def evaluate_adapter(adapter: Path, data: Path, device: str | None = None, reasoning: bool = False,
                     model: str | None = None, documents: Path | None = None) -> dict:
    """nDCG@10, Recall@10/100 and MRR@10 of ``adapter`` on a BEIR folder (dense search,
    with a greedy reasoning trace before each query when ``reasoning``); with ``documents``,
    ``adapter`` is a query adapter and ``documents`` the adapter that reads the passages."""
    from searchr3.eval.beir import load_beir
    from searchr3.eval.methods import dense_searchr3
    from searchr3.eval.metrics import evaluate

    dataset = load_beir(data)
    config = ModelConfig(model=model or DEFAULT_MODEL, adapter=str(documents or adapter),
                         query_adapter=str(adapter) if documents else None, device=device)
    run = dense_searchr3(dataset, config, reasoning=reasoning)
    return {**evaluate(run.rankings, dataset.qrels), "model": run.model}
