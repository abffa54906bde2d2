"""What the web page does, without the page: ask (retrieve, then stream an answer), upload
(ingest files), and index statistics. Plain Python, tested without a browser."""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

from searchr3.answers.answerers import Answerer, ExtractiveAnswerer
from searchr3.answers.evidence import best_sentences, search_to_answer
from searchr3.answers.grounding import cited
from searchr3.answers.local_chat import LocalChatModel
from searchr3.config import DEFAULT_ADAPTER, DEFAULT_MODEL
from searchr3.embedding.embedder import Embedder
from searchr3.embedding.reasoning import TraceCallback
from searchr3.errors import (
    IndexNotFoundError,
    InputTooLongError,
    InvalidInputError,
    SearchR3Error,
    SourceNotFoundError,
)
from searchr3.index.vectors import IndexLocation, VectorIndex, collection_names, stored_model
from searchr3.ingestion import Ingestor, Summary
from searchr3.model.streaming import Streamed
from searchr3.retrieval.conversation import standalone_query
from searchr3.retrieval.options import SearchOptions
from searchr3.retrieval.searcher import RankedHit, Searcher, SearchResult
from searchr3.serving.source_links import SourceLinks

MAX_QUESTION_CHARS = 2000
EMPTY_INDEX = (
    "The index is empty. Add documents with **Upload** on this page, "
    "or from a terminal: `python -m ingest ./docs`."
)
# Below this cosine between the question and its best passage, the page warns that the
# passages may not answer it: the highest threshold that flags at most 2% of the answer dev set's
# correctly answered questions (python -m bench.answers, docs/answers.md), chosen for the shipped
# default; other models score on other scales, so they get no warning unless given a threshold.
LOW_RELEVANCE = 0.52


# What the page starts with: hybrid search, which wins on every dev set (docs/fusion.md); no
# reasoning, which still lowers retrieval there (docs/results.md).
DEFAULT_OPTIONS = SearchOptions(k=4, reasoning=False, hybrid=True)


@dataclass
class Reply:
    """One step of an answer in progress, as :meth:`ChatService.ask` streams it: what was searched,
    the trace, the passages (with the character spans of their best-matching sentences), a
    low-relevance warning, the answer so far and the passages it cites, or the error that ended it.
    The page renders these; the API maps them to a response or to server-sent events."""

    search: str | None = None
    trace: str | None = None
    passages: list[RankedHit] = field(default_factory=list)
    highlights: list[list[tuple[int, int]]] = field(default_factory=list)
    warning: str | None = None
    answer: str = ""
    error: str | None = None
    done: bool = False
    seconds: dict[str, float] = field(default_factory=dict)

    failure: SearchR3Error | None = field(default=None, repr=False, compare=False)

    def failed(self, exc: SearchR3Error) -> Reply:
        """This reply ended by ``exc``: ``error`` its one-line message (what a page shows),
        ``failure`` the typed error (what the API maps to a status), ``done``."""
        self.error, self.failure, self.done = " ".join(str(exc).split()), exc, True
        return self

    @property
    def citations(self) -> list[int]:
        """The passage numbers (1..n) the answer so far cites as ``[i]``."""
        return cited(self.answer, len(self.passages))


def validate_question(question: object) -> str:
    """The question, stripped; raises :class:`InvalidInputError` (or :class:`InputTooLongError`)
    with a one-line reason."""
    if not isinstance(question, str) or not question.strip():
        raise InvalidInputError("please type a question")
    question = question.strip()
    if len(question) > MAX_QUESTION_CHARS:
        words = len(question.split())
        raise InputTooLongError(
            f"the question is {words:,} words ({len(question):,} characters);"
            f" the limit is {MAX_QUESTION_CHARS:,} characters"
        )
    return question


def reader_question(question: str, search: str, history: list[str] | tuple[str, ...] = ()) -> str:
    """What the answer model is asked: the question as typed, and for a follow-up (one searched
    with borrowed words) the earlier question it follows, so the reader sees what "it" is."""
    earlier = [h.strip() for h in history if h and h.strip()]
    if search == question.strip() or not earlier:
        return question.strip()
    return f"{question.strip()} (this follows the question: {earlier[-1]})"


def safe_file_name(name: str) -> str:
    """The last part of an uploaded file's name, so it cannot point outside its folder;
    raises :class:`InvalidInputError` for a name with nothing usable left."""
    base = str(name).replace("\\", "/").rsplit("/", 1)[-1].strip()
    if base in ("", ".", "..") or "\x00" in base:
        raise InvalidInputError(f"unusable file name {name!r}")
    return base


def highlights(query: str, hits: list[RankedHit]) -> list[list[tuple[int, int]]]:
    """Per passage, the spans of the sentences that best match ``query`` (in text order)."""
    best = best_sentences(query, [h.text for h in hits])
    return [sorted((e.sentence.start, e.sentence.end) for e in row) for row in best]


def default_low_relevance(embedder: Embedder) -> float | None:
    """:data:`LOW_RELEVANCE` for the shipped default model and adapter it was chosen for, else ``None``."""
    config = embedder.config
    shipped = config.model == DEFAULT_MODEL and config.adapter == DEFAULT_ADAPTER and config.adapter_path()
    return LOW_RELEVANCE if shipped else None


def relevance_warning(hits: list[RankedHit], threshold: float | None = LOW_RELEVANCE) -> str | None:
    """A warning when the best dense score is under ``threshold`` (``None`` when it is not, or
    when there is no threshold)."""
    scores = [h.dense_score for h in hits if h.dense_score is not None and h.dense_score == h.dense_score]
    if threshold is None or not scores or max(scores) >= threshold:
        return None
    return (f"Low relevance: the best passage matches the question at {max(scores):.2f} (under"
            f" {threshold:.2f}); the documents may not answer it.")


class ChatService:
    """Retrieval and answers over one index location; uploads go through the ingest pipeline.

    ``answerer``: how answers are made (default: quoted from the passages, see
    :mod:`searchr3.answers.answerers`); ``chat_model``: the model a generative answerer writes with
    (default: the embedder's own model); ``low_relevance``: the best-passage score under which a
    reply warns (``"auto"``: :func:`default_low_relevance`; ``None``: never).
    """

    def __init__(self, embedder: Embedder, location: IndexLocation, chat_model=None,
                 answerer: Answerer | None = None, low_relevance: float | None | str = "auto"):
        self.embedder = embedder
        self.location = location
        self.chat = chat_model or LocalChatModel(embedder=embedder, max_new_tokens=200)
        self.answerer = answerer or ExtractiveAnswerer()
        self.links = SourceLinks()
        self.low_relevance = default_low_relevance(embedder) if low_relevance == "auto" else low_relevance
        self._searchers: dict[str, Searcher] = {}
        self._lock = threading.Lock()

    def _index(self, collection: str | None, create: bool) -> VectorIndex:
        """The collection's index (``None``: the service's own collection)."""
        location = self.location.with_collection(collection)
        return VectorIndex(location, self.embedder.fingerprint, self.embedder.dim, create=create)

    def _searcher(self, collection: str | None) -> Searcher | None:
        collection = self.location.with_collection(collection).collection
        with self._lock:
            if collection not in self._searchers:
                try:
                    self._searchers[collection] = Searcher(self.embedder, self._index(collection, create=False))
                except IndexNotFoundError:
                    return None
            return self._searchers[collection]

    def stats(self, collection: str) -> dict:
        """Files, chunks and model of a collection (zeros when it does not exist yet)."""
        try:
            index = self._index(collection, create=False)
        except IndexNotFoundError:
            return {"collection": collection, "files": 0, "chunks": 0, "model": self.embedder.fingerprint}
        sources = {meta.get("source") for _, _, meta in index.iter_all(include_text=False)}
        return {
            "collection": collection,
            "files": len(sources),
            "chunks": index.count(),
            "model": self.embedder.fingerprint,
        }

    def files(self, collection: str | None = None) -> list[dict]:
        """The files of a collection, by name: source, file name, chunks and when indexed
        (empty when the collection does not exist)."""
        try:
            index = self._index(collection, create=False)
        except IndexNotFoundError:
            return []
        found: dict[str, dict] = {}
        for _, _, meta in index.iter_all(include_text=False):
            source = meta.get("source", "")
            row = found.setdefault(source, {"source": source, "file_name": meta.get("file_name") or source,
                                            "chunks": 0, "indexed_at": meta.get("indexed_at")})
            row["chunks"] += 1
        return sorted(found.values(), key=lambda r: (r["file_name"].lower(), r["source"]))

    def remove_file(self, source: str, collection: str | None = None) -> int:
        """Remove a file's chunks from a collection (under the writer lock); returns how many.
        Raises :class:`InvalidInputError` when the collection has no such file."""
        location = self.location.with_collection(collection)
        try:
            removed = Ingestor(self.embedder, self._index(collection, create=False)).remove(source)
        except IndexNotFoundError:
            removed = 0
        if not removed:
            raise InvalidInputError(f"no file {source!r} in collection {location.collection!r}")
        return removed

    def source_file(self, chunk_id: str, collection: str | None = None) -> Path:
        """The file a chunk came from. Raises :class:`SourceNotFoundError` when the collection has
        no such chunk or its file is no longer where it was indexed."""
        collection = self.location.with_collection(collection).collection
        try:
            found = self._index(collection, create=False).get([chunk_id])
        except IndexNotFoundError:
            found = {}
        if chunk_id not in found:
            raise SourceNotFoundError(f"no passage {chunk_id!r} in collection {collection!r}")
        path = Path(found[chunk_id][1].get("source", ""))
        if not path.is_file():
            raise SourceNotFoundError(f"the source file is no longer at {path}")
        return path

    def collections(self) -> list[str]:
        """The searchr3 collections at this service's location, the default one always listed.
        Those of another model are listed too: :meth:`stats` on one says how to re-embed it."""
        return sorted(set(collection_names(self.location)) | {self.location.collection})

    def model_mismatch(self, collection: str | None = None) -> str | None:
        """Why ``collection`` (default: the service's) cannot be searched with this model — it
        holds another model's vectors; the message says how to re-embed it — else ``None``."""
        location = self.location.with_collection(collection)
        try:
            stored, _ = stored_model(location)
        except IndexNotFoundError:
            return None
        if stored is None or stored == self.embedder.fingerprint:
            return None
        return (f"the index at {location.label} holds vectors of model {stored!r}, not of this one"
                f" ({self.embedder.fingerprint!r});"
                " re-embed it with `python -m ingest --reembed` (same --db/--collection)")

    def has_collection(self, collection: str | None = None) -> bool:
        """Whether ``collection`` (default: the service's) exists at the service's location."""
        return self._searcher(collection) is not None

    def retrieve(self, question: str, options: SearchOptions = DEFAULT_OPTIONS,
                 collection: str | None = None, history: list[str] | tuple[str, ...] = (),
                 on_trace: TraceCallback | None = None) -> SearchResult | None:
        """Search ``collection`` (default: the service's) for ``question``, made standalone with
        the earlier searches ``history`` (:func:`~searchr3.retrieval.conversation.standalone_query`; the
        result's ``query`` is what was searched); ``None`` when the collection is missing or
        empty. Raises :class:`InvalidInputError` for a bad question. ``on_trace`` receives the
        reasoning trace as it is written."""
        return self._search(standalone_query(validate_question(question), history), options, collection, on_trace)

    def _search(self, search: str, options: SearchOptions, collection: str | None,
                on_trace: TraceCallback | None = None) -> SearchResult | None:
        """The passages to answer the standalone ``search`` from in ``collection``
        (:func:`~searchr3.answers.evidence.search_to_answer`); ``None`` when it is missing or empty."""
        searcher = self._searcher(collection)
        if searcher is None or searcher.index.count() == 0:
            return None
        return search_to_answer(searcher, search, options, on_trace)

    def ask(
        self, question: str, options: SearchOptions = DEFAULT_OPTIONS, collection: str | None = None,
        history: list[str] | tuple[str, ...] = (), **settings,
    ) -> Iterator[Reply]:
        """The chat, for the page and the API alike: :meth:`retrieve`, then the answer written from
        the passages, as a stream of :class:`Reply` snapshots (with reasoning, the trace as it grows
        first; the last one ``done``; an error ends the stream: :meth:`Reply.failed`). ``history``: the
        earlier user questions as typed, oldest first; ``settings``: ``max_tokens`` and
        ``temperature`` where the answerer writes."""
        started = time.perf_counter()
        try:
            question = validate_question(question)
            search = standalone_query(question, history)
            if options.reasoning:  # the search runs in a worker thread while its trace streams here
                searching = Streamed(lambda put, _: self._search(search, options, collection, put))
                trace = ""
                for piece in searching:
                    trace += piece
                    yield Reply(search=search, trace=trace)
                result = searching.result
            else:
                result = self._search(search, options, collection)
        except SearchR3Error as exc:
            yield Reply().failed(exc)
            return
        if result is None:
            yield Reply(answer=EMPTY_INDEX, done=True)
            return
        reply = Reply(search=result.query, trace=result.trace, passages=result.hits,
                      highlights=highlights(result.query, result.hits),
                      warning=relevance_warning(result.hits, self.low_relevance),
                      seconds={"search": time.perf_counter() - started})
        yield replace(reply)
        try:
            asked = reader_question(question, result.query, history)
            for piece in self.answerer.stream(asked, result.hits, **settings):
                reply.answer += piece
                yield replace(reply)  # a snapshot: callers may keep earlier steps
        except SearchR3Error as exc:
            reply.failed(exc)
        reply.done = True
        reply.seconds = {**reply.seconds, "answer": time.perf_counter() - started - reply.seconds["search"]}
        yield replace(reply)

    def upload(self, files: list[str | Path], collection: str, progress=None) -> Summary:
        """Index uploaded files (copied under their own names first, so the index names them well;
        a name cannot reach outside the upload folder)."""
        index = self._index(collection, create=True)
        store = (self.location.path or Path(tempfile.gettempdir())) / "uploads" / collection
        store.mkdir(parents=True, exist_ok=True)
        copies = []
        for f in files:
            src = Path(f)
            dest = store / safe_file_name(src.name)
            shutil.copyfile(src, dest)
            copies.append(dest)
        summary = Ingestor(self.embedder, index).run(copies, progress=progress)
        with self._lock:
            self._searchers.pop(collection, None)  # the collection may have been created just now
        return summary
