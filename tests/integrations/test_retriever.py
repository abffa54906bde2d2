"""SearchR3Retriever on a real embedded Chroma index built by the ingest pipeline."""

import pytest
from langchain_core.documents import Document
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import RunnableLambda
from langchain_tests.integration_tests import RetrieversIntegrationTests

from searchr3 import IndexNotFoundError, InvalidInputError, SearchOptions, SearchR3Retriever
from searchr3.answers.local_chat import LocalChatModel
from searchr3.index.vectors import IndexLocation, VectorIndex
from searchr3.ingestion.pipeline import Ingestor

pytestmark = pytest.mark.model

PLANTED = {
    "tea.txt": "Green tea should be brewed with water at eighty degrees Celsius for two minutes.",
    "volcano.txt": "Volcanoes erupt when magma from the mantle rises through cracks in the crust.",
    "violin.txt": "A violin has four strings tuned in perfect fifths: G, D, A and E.",
    "tax.txt": "Form XQ-7741 must be filed by self-employed residents before the end of April.",
    "garden.txt": "Tomato plants need full sun, deep watering and support from stakes or cages.",
    "space.txt": "Jupiter is the largest planet in the Solar System and has dozens of moons.",
}


def planted_index(root, embedder):
    """The planted files ingested by ``embedder`` into ``root/db``; returns that folder."""
    docs = root / "docs"
    docs.mkdir()
    for name, text in PLANTED.items():
        (docs / name).write_text(text)
    location = IndexLocation.embedded(root / "db")
    Ingestor(embedder, VectorIndex(location, embedder.fingerprint, embedder.dim), 64, 8).run([docs])
    return root / "db"


@pytest.fixture(scope="module")
def db(tmp_path_factory, embedder):
    return planted_index(tmp_path_factory.mktemp("retriever"), embedder)


@pytest.fixture
def retriever(db, embedder):
    return SearchR3Retriever.load(db, embedder=embedder, k=3)


@pytest.mark.parametrize(
    "query, expected",
    [
        ("At what temperature do I brew green tea?", "tea.txt"),
        ("Why do volcanoes erupt?", "volcano.txt"),
        ("Which is the biggest planet?", "space.txt"),
    ],
)
def test_finds_the_planted_passage(retriever, query, expected):
    docs = retriever.invoke(query)
    assert docs[0].metadata["file_name"] == expected
    assert [d.metadata["rank"] for d in docs] == [1, 2, 3]
    scores = [d.metadata["score"] for d in docs]
    assert scores == sorted(scores, reverse=True)
    assert docs[0].metadata["source"].endswith(expected) and docs[0].metadata["position"] == 0


def test_history_makes_a_follow_up_standalone(tmp_path, tiny):
    # BM25 reads only the follow-up's own words ("long"), so the topic reaches the search through the
    # dense vector alone: the tiny model's bag of words reads it, the bare model too poorly
    retriever = SearchR3Retriever.load(planted_index(tmp_path, tiny), embedder=tiny, k=3)
    history = ["At what temperature do I brew green tea?"]
    docs = retriever.invoke("And for how long?", history=history, k=1)
    assert docs[0].metadata["search_query"] == "And for how long? (temperature brew green tea)"
    assert docs[0].metadata["file_name"] == "tea.txt"
    alone = retriever.invoke("And for how long?", k=1)[0]
    assert alone.metadata["search_query"] == "And for how long?" and alone.metadata["file_name"] != "tea.txt"


def test_k_and_filter(retriever):
    assert len(retriever.invoke("tea", k=1)) == 1
    assert len(SearchR3Retriever(searcher=retriever.searcher, options=SearchOptions(k=5)).invoke("tea")) == 5
    filtered = retriever.invoke("Why do volcanoes erupt?", filter={"file_name": "garden.txt"})
    assert [d.metadata["file_name"] for d in filtered] == ["garden.txt"]
    either = retriever.invoke("planets", filter={"file_name": {"$in": ["tea.txt", "violin.txt"]}}, k=5)
    assert {d.metadata["file_name"] for d in either} == {"tea.txt", "violin.txt"}


def test_hybrid_brings_in_exact_terms(retriever):
    query = "XQ-7741"
    dense = retriever.invoke(query, k=6, hybrid=False)
    hybrid = retriever.invoke(query, k=6)  # hybrid is the default
    assert hybrid[0].metadata["file_name"] == "tax.txt"
    assert "bm25_score" in hybrid[0].metadata and "bm25_score" not in dense[0].metadata
    # fused scores are the mix of normalised scores: the best BM25 match alone gives it 0.3
    scores = [d.metadata["score"] for d in hybrid]
    assert all(0.0 <= s <= 1.0 for s in scores) and scores == sorted(scores, reverse=True)
    assert hybrid[0].metadata["score"] >= 0.3
    # a filter applies to the BM25 side too
    assert all(
        d.metadata["file_name"] == "tea.txt"
        for d in retriever.invoke(query, hybrid=True, filter={"file_name": "tea.txt"})
    )


def test_reasoning_exposes_the_trace(retriever):
    plain = retriever.invoke("Why do volcanoes erupt?")
    assert "reasoning_trace" not in plain[0].metadata
    trace, docs = retriever.search_with_trace("Why do volcanoes erupt?", reasoning=True)
    assert trace and trace.strip()
    assert all(d.metadata["reasoning_trace"] == trace for d in docs)
    assert retriever.search("Why do volcanoes erupt?", reasoning=True).trace == trace  # greedy: deterministic


async def test_async_equals_sync(retriever):
    for kwargs in ({}, {"hybrid": True}):
        sync = retriever.invoke("how many strings does a violin have", **kwargs)
        asynchronous = await retriever.ainvoke("how many strings does a violin have", **kwargs)
        assert [(d.id, d.page_content, d.metadata) for d in sync] == [
            (d.id, d.page_content, d.metadata) for d in asynchronous
        ]


def test_in_an_lcel_chain_with_the_local_model(retriever, embedder):
    def format_docs(docs: list[Document]) -> str:
        return "\n".join(f"[{i}] {d.page_content}" for i, d in enumerate(docs, 1))

    prompt = ChatPromptTemplate.from_messages([
        ("system", "Answer from the passages."),
        ("human", "Passages:\n{context}\n\nQuestion: {question}"),
    ])
    llm = LocalChatModel(embedder=embedder, max_new_tokens=24)
    chain = (
        {"context": retriever | RunnableLambda(format_docs), "question": lambda q: q}
        | prompt
        | llm
        | StrOutputParser()
    )
    answer = chain.invoke("At what temperature do I brew green tea?")
    assert isinstance(answer, str) and answer.strip()
    assert "eighty" in answer.lower() or "80" in answer


def test_built_from_an_existing_client_or_searcher(db, embedder):
    import chromadb

    from searchr3 import Searcher

    client = chromadb.PersistentClient(path=str(db), settings=chromadb.Settings(anonymized_telemetry=False))
    from_client = SearchR3Retriever.load(client=client, embedder=embedder, k=2)
    found = from_client.invoke("Which is the biggest planet?")
    assert found[0].metadata["file_name"] == "space.txt" and len(found) == 2
    index = VectorIndex(IndexLocation.embedded(db), embedder.fingerprint, embedder.dim, create=False, client=client)
    injected = SearchR3Retriever(searcher=Searcher(embedder, index), options=SearchOptions(k=2))
    assert [d.id for d in injected.invoke("Which is the biggest planet?")] == [d.id for d in found]


def test_bad_input(retriever, db, embedder):
    with pytest.raises(InvalidInputError, match="empty"):
        retriever.invoke("   ")
    with pytest.raises(IndexNotFoundError, match="no collection 'nope'"):
        SearchR3Retriever.load(db, collection="nope", embedder=embedder).invoke("tea")
    with pytest.raises(TypeError, match="unknown search option"):
        retriever.invoke("tea", colour="red")


class TestStandardRetriever(RetrieversIntegrationTests):
    """langchain-tests' standard retriever suite."""

    @pytest.fixture(autouse=True)
    def _setup(self, db, embedder):
        type(self)._params = {"db_path": str(db), "embedder": embedder}

    @property
    def retriever_constructor(self):
        return SearchR3Retriever.load

    @property
    def retriever_constructor_params(self):
        return self._params

    @property
    def retriever_query_example(self) -> str:
        return "how do volcanoes erupt"
