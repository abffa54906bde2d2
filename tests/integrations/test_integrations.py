"""searchr3 inside other stacks: LangChain Embeddings (standard suites, langchain-chroma), a Chroma
embedding function for plain chromadb, and sentence-transformers-style methods (over the tiny model:
the plumbing, not the vectors' quality)."""

from __future__ import annotations

import chromadb
import numpy as np
import pytest
from langchain_chroma import Chroma
from langchain_tests.integration_tests import EmbeddingsIntegrationTests
from langchain_tests.unit_tests import EmbeddingsUnitTests

from searchr3 import Embedder, ModelConfig, SearchR3EmbeddingFunction, SearchR3Embeddings

NOTES = [
    "The Skerryvore lighthouse stands on a reef off Tiree and was first lit in 1844.",
    "Basalt forms when lava rich in iron and magnesium cools quickly at the surface.",
    "Green tea is steamed or pan-fired soon after picking, which stops oxidation.",
    "A sourdough starter is a culture of wild yeast and lactic acid bacteria.",
]
QUESTION = "When was the lighthouse on the reef first lit?"


class _OverTheTestModel:
    """Both standard suites build ``SearchR3Embeddings`` over the session's tiny model."""

    @pytest.fixture(autouse=True)
    def _setup(self, tiny):
        type(self)._params = {"embedder": tiny}

    @property
    def embeddings_class(self):
        return SearchR3Embeddings

    @property
    def embedding_model_params(self):
        return self._params


class TestEmbeddingsUnit(_OverTheTestModel, EmbeddingsUnitTests):
    """langchain-tests' standard unit suite."""


class TestEmbeddingsIntegration(_OverTheTestModel, EmbeddingsIntegrationTests):
    """langchain-tests' standard integration suite (sync and async)."""


def test_langchain_embeddings_are_the_embedder_s(tiny):
    lc = SearchR3Embeddings(embedder=tiny)
    assert lc.config == tiny.config
    np.testing.assert_allclose(lc.embed_documents(NOTES), tiny.embed_documents(NOTES), atol=1e-5)
    np.testing.assert_allclose(lc.embed_query(QUESTION), tiny.embed_query(QUESTION), atol=1e-5)
    assert lc.embed_documents([]) == []
    # without an tiny, the configured model is loaded once per process and shared
    assert SearchR3Embeddings(config=tiny.config).embedder is tiny


async def test_langchain_async_matches_sync(tiny):
    lc = SearchR3Embeddings(embedder=tiny)
    np.testing.assert_allclose(await lc.aembed_query(QUESTION), lc.embed_query(QUESTION), atol=1e-6)


def test_langchain_chroma_round_trip(tiny, tmp_path):
    store = Chroma("notes", embedding_function=SearchR3Embeddings(embedder=tiny),
                   persist_directory=str(tmp_path / "lc"))
    store.add_texts(NOTES, ids=[f"n{i}" for i in range(len(NOTES))])
    (best,) = store.as_retriever(search_kwargs={"k": 1}).invoke(QUESTION)
    assert best.id == "n0" and "1844" in best.page_content
    (tea,) = store.similarity_search("what stops oxidation of tea leaves", k=1)
    assert tea.id == "n2"


def test_plain_chromadb_with_the_embedding_function(tiny, tmp_path):
    path = str(tmp_path / "chroma")
    ef = SearchR3EmbeddingFunction(embedder=tiny)
    notes = chromadb.PersistentClient(path).create_collection("notes", embedding_function=ef)
    notes.add(ids=[f"n{i}" for i in range(len(NOTES))], documents=NOTES)
    assert notes.query(query_texts=[QUESTION], n_results=1)["ids"] == [["n0"]]
    # queries went through the query prompt, documents through the document prompt
    stored = notes.get(ids=["n1"], include=["embeddings"])["embeddings"][0]
    np.testing.assert_allclose(stored, tiny.embed_documents([NOTES[1]])[0], atol=1e-5)
    np.testing.assert_allclose(ef.embed_query([QUESTION])[0], tiny.embed_query(QUESTION), atol=1e-6)

    # another client reopens the collection by name: Chroma rebuilds the function from its config
    reopened = chromadb.PersistentClient(path).get_collection("notes")
    assert isinstance(reopened.configuration.get("embedding_function"), SearchR3EmbeddingFunction)
    assert reopened.query(query_texts=["what cools into basalt"], n_results=1)["ids"] == [["n1"]]
    config = ef.get_config()
    rebuilt = SearchR3EmbeddingFunction.build_from_config(config)
    assert rebuilt.get_config() == config and rebuilt.embedder is tiny  # shared, not loaded again
    reasoned = SearchR3EmbeddingFunction(embedder=tiny, reasoning=True)
    assert reasoned.get_config()["reasoning"] is True
    np.testing.assert_allclose(reasoned.embed_query([QUESTION])[0], tiny.reason([QUESTION])[0].vector, atol=1e-5)
    with pytest.raises(ValueError, match="unknown config keys"):
        SearchR3EmbeddingFunction.build_from_config({**config, "colour": "red"})


def test_sentence_transformers_style(tiny):
    one = tiny.encode_query(QUESTION)
    many = tiny.encode_document(NOTES)
    assert one.shape == (tiny.dim,) and many.shape == (len(NOTES), tiny.dim)
    np.testing.assert_allclose(many, tiny.embed_documents(NOTES), atol=1e-6)
    scores = tiny.similarity(one, many)
    assert scores.shape == (1, len(NOTES)) and int(scores.argmax()) == 0
    assert tiny.encode_document(NOTES[:1], convert_to_tensor=True).shape == (1, tiny.dim)


def test_shared_loads_once(tiny):
    assert Embedder.shared(tiny.config) is tiny  # conftest's fixture came from Embedder.shared
    assert Embedder.shared(ModelConfig(**{**vars(tiny.config)})) is tiny  # equal configs, one model
