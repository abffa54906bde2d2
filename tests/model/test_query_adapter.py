"""The shipped query adapter: plain queries read by their own weights, into the document space."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from searchr3 import Embedder, ModelConfig
from searchr3.config import BUNDLED_ADAPTERS
from searchr3.errors import ModelNotFoundError
from searchr3.eval.metrics import evaluate
from searchr3.model.adapter import adapter_identity
from tests.conftest import SMALL

QUERY_ADAPTER = BUNDLED_ADAPTERS / "query"


def test_the_query_adapter_goes_with_the_shipped_pair_only():
    assert ModelConfig().query_adapter_path() == QUERY_ADAPTER
    assert ModelConfig(adapter=str(BUNDLED_ADAPTERS / "sft")).query_adapter_path() == QUERY_ADAPTER
    assert ModelConfig().query_side().adapter == str(QUERY_ADAPTER)
    assert ModelConfig().query_side().query_side() is None  # the query model reads its queries itself
    # other documents, another model or none asked for: the document model reads queries
    assert ModelConfig(adapter="none").query_side() is None
    assert ModelConfig(adapter="/some/adapter").query_adapter_path() is None
    assert ModelConfig(model="/some/other/model").query_adapter_path() is None
    assert ModelConfig(query_adapter="none").query_side() is None
    assert ModelConfig(adapter="none", query_adapter="~/q").query_adapter_path() == Path("~/q").expanduser()
    size = sum(f.stat().st_size for f in QUERY_ADAPTER.iterdir())
    assert size < 12_000_000, size


@pytest.mark.model
def test_queries_move_documents_do_not(trained):
    queries = ["How do I read a JSON file?", "Wie kopiere ich Dateien?", "What is a lambda?"]
    assert trained.query_embedder is not trained
    assert trained.query_fingerprint == f"{trained.fingerprint}|queries={adapter_identity(QUERY_ADAPTER)}"
    # the document model's own reading of the same query prompts
    own = trained.vectors_for_ids([p.ids for p in trained._encoders["query"].encode(queries)])
    got = trained.embed_queries(queries)
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    cos = (own * got).sum(1)
    assert cos.max() < 0.995 and cos.min() > 0.8, cos  # trained away from it, in the same space
    # documents stay on the document model (an index needs no re-embedding), not the query model's
    documents = trained.embed_documents(queries)
    np.testing.assert_array_equal(
        documents, trained.vectors_for_ids([p.ids for p in trained._encoders["document"].encode(queries)]))
    assert (documents * trained.query_embedder.embed_documents(queries)).sum(1).max() < 0.995
    assert trained.query_embedder.fingerprint != trained.fingerprint


@pytest.mark.model
def test_the_query_adapter_ranks_the_python_faq_better(trained, pyfaq):
    """On the Python FAQ dev set (at the tests' short limits) the shipped pair ranks answers
    better than the document model reading the questions itself."""
    doc_ids = list(pyfaq.corpus)
    docs = trained.embed_documents([pyfaq.doc_text(d) for d in doc_ids])
    q_ids = list(pyfaq.queries)
    texts = [pyfaq.queries[q] for q in q_ids]
    own = trained.vectors_for_ids([p.ids for p in trained._encoders["query"].encode(texts)])
    scores = {}
    for name, queries in (("own", own), ("adapter", trained.embed_queries(texts))):
        order = np.argsort(-(queries @ docs.T), axis=1)[:, :10]
        scores[name] = evaluate({q: [doc_ids[j] for j in row] for q, row in zip(q_ids, order)}, pyfaq.qrels)
    assert scores["adapter"]["ndcg@10"] > scores["own"]["ndcg@10"] + 0.005, scores


@pytest.mark.model
def test_a_query_adapter_that_is_not_there_fails_at_load(tmp_path):
    with pytest.raises(ModelNotFoundError, match=f"adapter not found: {tmp_path} has no adapter_config.json"):
        Embedder.load(ModelConfig(query_adapter=str(tmp_path), **SMALL))
