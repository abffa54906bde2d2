"""The app's service and page handlers on the real model and a real Chroma, no browser."""

import json
import subprocess
import sys
import threading
import urllib.request

import pytest

from app.page import answer_markdown, passages_markdown
from bench.net import free_port, wait_for_http
from searchr3 import SearchOptions
from searchr3.answers.answerers import GenerativeAnswerer
from searchr3.answers.grounding import unsupported_terms
from searchr3.answers.local_chat import LocalChatModel
from searchr3.errors import SourceNotFoundError
from searchr3.index.vectors import IndexLocation
from searchr3.serving.service import EMPTY_INDEX, ChatService
from tests.index_tools import model_args

FAST = SearchOptions(k=2, reasoning=True, hybrid=False)


@pytest.fixture(scope="module")
def service(tmp_path_factory, trained):
    db = tmp_path_factory.mktemp("app") / "db"
    return ChatService(trained, IndexLocation.embedded(db))


@pytest.fixture(scope="module")
def uploaded(service, tmp_path_factory):
    folder = tmp_path_factory.mktemp("uploads")
    good = folder / "lighthouse.txt"
    good.write_text("The Fastnet lighthouse was first lit in 1854. Its keeper rowed out every Monday with supplies.")
    other = folder / "tea.md"
    other.write_text("# Tea\n\nGreen tea is brewed at eighty degrees for two minutes.")
    corrupt = folder / "broken.pdf"
    corrupt.write_bytes(b"%PDF-1.4 this is not a pdf")
    return service.upload([good, other, corrupt], "docs")


def test_empty_index_says_how_to_add_documents(service):
    (reply,) = list(service.ask("anything?", collection="never-created"))
    assert reply.answer == EMPTY_INDEX and "python -m ingest" in reply.answer and reply.done
    assert service.stats("never-created")["chunks"] == 0


@pytest.mark.parametrize(
    "question, message", [("   ", "please type a question"), ("word " * 10_000, "the question is 10,000 words")]
)
def test_bad_questions_get_one_line_errors(service, question, message):
    (reply,) = list(service.ask(question, FAST))
    assert reply.error.startswith(message) and "\n" not in reply.error
    assert answer_markdown(reply).startswith("⚠️")


def test_bad_upload_is_reported_and_the_rest_indexed(uploaded, service):
    assert uploaded.files_indexed == 2 and uploaded.files_failed == 1
    assert "corrupt PDF" in uploaded.failures[0]["error"]
    stats = service.stats("docs")
    assert stats["files"] == 2 and stats["chunks"] == 2 and stats["model"] == service.embedder.fingerprint


def test_ask_streams_trace_passages_and_a_quoted_cited_answer(uploaded, service):
    replies = list(
        service.ask("When was the Fastnet lighthouse first lit?", SearchOptions(k=2, reasoning=True), "docs")
    )
    writing = [r for r in replies if not r.passages]  # the trace streams while the model reasons
    assert len(writing) > 2 and len({r.trace for r in writing}) == len(writing)
    assert all(r.search == "When was the Fastnet lighthouse first lit?" for r in replies)
    first, last = next(r for r in replies if r.passages), replies[-1]
    assert first.trace and first.passages and not first.answer  # retrieval shows before the answer
    assert last.done and last.trace == first.trace and last.passages[0].metadata["file_name"] == "lighthouse.txt"
    # the default answer quotes the best sentence and cites it: nothing the passage does not say
    assert last.answer == "> The Fastnet lighthouse was first lit in 1854. [1]"
    assert last.highlights[0] == [(0, len("The Fastnet lighthouse was first lit in 1854."))]
    assert last.warning is None and set(last.seconds) == {"search", "answer"}
    shown = passages_markdown(last)
    assert "**[1]** lighthouse.txt" in shown and "<mark>The Fastnet lighthouse was first lit in 1854.</mark>" in shown
    rendered = answer_markdown(last)
    assert "**Cited:** [1] lighthouse.txt" in rendered


def test_a_written_answer_streams_and_is_checked(uploaded, service):
    chat = LocalChatModel(embedder=service.embedder, max_new_tokens=40)
    writer = ChatService(service.embedder, service.location, answerer=GenerativeAnswerer(chat))
    replies = list(writer.ask("When was the Fastnet lighthouse first lit?", SearchOptions(k=2), "docs"))
    last = replies[-1]
    assert last.done and last.answer.strip() and len({len(r.answer) for r in replies}) > 2  # it grows
    hits = [h.text for h in last.passages]
    body = "\n".join(line for line in last.answer.splitlines() if not line.startswith("_"))
    assert unsupported_terms(body, [last.search, *hits]) == []  # whatever it wrote is backed


def test_a_follow_up_finds_what_the_question_alone_misses(service, tmp_path):
    docs = {
        "git-branch-create.txt": "Creating a branch: git branch NAME makes a new branch at the current commit.",
        "git-branch-delete.txt": "Deleting a branch: git branch -d NAME removes a merged branch; -D forces it.",
        "rm.txt": "Deleting files: the rm command removes files from disk; rm -r removes a directory.",
        "pydel.txt": "The del statement deletes a name binding or an item from a list or dictionary.",
    }
    for name, text in docs.items():
        (tmp_path / name).write_text(text)
    assert "git" not in service.collections()
    service.upload([tmp_path / name for name in docs], "git")
    assert {"docs", "git", service.location.collection} <= set(service.collections())
    alone = [r for r in service.ask("And how do I delete it?", SearchOptions(k=1), "git")][-1]
    assert alone.passages[0].metadata["file_name"] != "git-branch-delete.txt"
    history = ["How do I create a branch in git?"]
    (followed,) = [r for r in service.ask("And how do I delete it?", SearchOptions(k=2), "git", history) if r.done]
    assert followed.search == "And how do I delete it? (create branch git)"
    assert followed.passages[0].metadata["file_name"] == "git-branch-delete.txt"
    assert followed.answer.startswith("> Deleting a branch") and "[1]" in followed.answer


def test_off_topic_questions_are_flagged_and_sources_open(uploaded, service):
    (reply,) = [r for r in service.ask("Who painted the Mona Lisa?", SearchOptions(k=2), "docs") if r.done]
    assert reply.warning and reply.warning.startswith("Low relevance")
    top = reply.passages[0]
    assert service.source_file(top.id, "docs").read_text() == top.text
    with pytest.raises(SourceNotFoundError, match="no passage"):
        service.source_file("no-such-chunk", "docs")


def test_concurrent_questions_all_finish(uploaded, service):
    results, errors = [], []

    def worker(q):
        try:
            results.append(list(service.ask(q, SearchOptions(k=1, reasoning=False), "docs"))[-1])
        except Exception as exc:  # pragma: no cover - the assertion below reports it
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(f"question {i} about tea?",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not errors and len(results) == 4 and all(r.done and not r.error for r in results)


def _app(tmp_path_factory, *options: str):
    """`python -m app` on a fresh index with ``options``, its URL while it runs."""
    port = free_port()
    db = tmp_path_factory.mktemp("server") / "db"
    command = [sys.executable, "-m", "app", "--db", str(db), "--port", str(port), *options]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    wait_for_http(url, proc, timeout=180)
    yield url
    proc.terminate()
    proc.wait(timeout=30)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`python -m app` over the tiny model, answers quoted, stopped after the module."""
    yield from _app(tmp_path_factory, "--answer", "extract", *model_args())


@pytest.fixture(scope="module")
def shipped_server(tmp_path_factory):
    """`python -m app` as a user starts it: the shipped model and answer model."""
    yield from _app(tmp_path_factory)


@pytest.mark.tiny  # starts a process
def test_server_queues_many_users(server):
    from gradio_client import Client

    client = Client(server, verbose=False)
    jobs = [client.submit(f"What is question {i}?", [], 1, False, False, "documents", fn_index=0) for i in range(6)]
    outputs = [job.result(timeout=300) for job in jobs]
    assert len(outputs) == 6
    for chat, *_ in outputs:
        content = chat[-1]["content"]  # Gradio 6: a list of typed parts
        text = content if isinstance(content, str) else " ".join(part.get("text", "") for part in content)
        assert "index is empty" in text


@pytest.mark.tiny  # starts a process
def test_the_api_shares_the_page_port(server):
    import openai

    api = openai.OpenAI(base_url=f"{server}/v1", api_key="open-on-loopback", max_retries=0)
    assert api.models.list().data[0].id == "searchr3"
    with pytest.raises(openai.NotFoundError, match="no collection"):  # nothing indexed on this server yet
        api.chat.completions.create(model="searchr3", messages=[{"role": "user", "content": "hi"}])


@pytest.mark.tiny  # starts a process
def test_page_has_no_outside_assets(server):
    body = urllib.request.urlopen(server, timeout=10).read().decode()
    assert "searchr3" in body
    for marker in ("fonts.googleapis", "cdn.jsdelivr", "unpkg.com", "cdnjs"):
        assert marker not in body


@pytest.mark.tiny  # starts a process
def test_bad_model_path_is_one_line_and_nonzero(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "app", "--model", str(tmp_path / "missing")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 1
    assert out.stderr.strip().startswith("error: model not found") and len(out.stderr.strip().splitlines()) == 1


@pytest.mark.tiny  # starts a process
def test_the_page_and_the_api_give_one_answer(server):
    """One pipeline: a whole API answer, a streamed one and the page's, for the same question and index,
    are the same answer citing the same passages."""
    import re

    import httpx
    from gradio_client import Client

    notes = [("kiln.txt", b"A kiln fires clay at 1200 degrees. Glaze melts in the second firing."),
             ("loom.txt", b"A loom holds the warp threads under tension while the weft is woven.")]
    added = httpx.post(f"{server}/v1/collections/crafts/files", files=[("files", n) for n in notes], timeout=300)
    assert added.status_code == 200 and added.json()["files_indexed"] == 2
    question = "At what temperature does a kiln fire clay?"
    body = {"model": "searchr3", "messages": [{"role": "user", "content": question}], "collection": "crafts"}

    whole = httpx.post(f"{server}/v1/chat/completions", json=body, timeout=300).json()
    answer = whole["choices"][0]["message"]["content"]
    assert "1200 degrees" in answer and whole["citations"] == [1]
    assert whole["sources"][0]["metadata"]["file_name"] == "kiln.txt"

    events = httpx.post(f"{server}/v1/chat/completions", json={**body, "stream": True}, timeout=300).text
    chunks = [json.loads(line[6:]) for line in events.splitlines() if line.startswith("data: {")]
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks) == answer
    assert chunks[-1]["citations"] == whole["citations"]
    assert [s["id"] for s in chunks[0]["sources"]] == [s["id"] for s in whole["sources"]]
    assert chunks[0]["search"] == whole["search"] and chunks[0]["warning"] == whole["warning"]

    chat, passages, _ = Client(server, verbose=False).predict(question, [], 4, False, True, "crafts", fn_index=0)
    content = chat[-1]["content"]
    shown = content if isinstance(content, str) else " ".join(part.get("text", "") for part in content)
    warned = f"⚠️ _{whole['warning']}_\n\n" if whole["warning"] else ""
    assert shown.startswith(warned + answer + "\n\n**Cited:** ")
    assert [int(i) for i in re.findall(r"\[(\d+)\] \[", shown[len(warned + answer):])] == whole["citations"]
    assert [s["metadata"]["file_name"] for s in whole["sources"]] == re.findall(r">([^<>]+\.txt)</a>", passages)
