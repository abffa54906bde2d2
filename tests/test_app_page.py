"""The app's service and page handlers on the real model and a real Chroma, no browser."""

import subprocess
import sys
import threading
import urllib.request

import pytest

from app.page import answer_markdown, passages_markdown
from searchr3 import SearchOptions
from searchr3.chat import LocalChatModel
from searchr3.index import IndexLocation
from searchr3.service import EMPTY_INDEX, ChatService
from tests.net import free_port, wait_for_http

pytestmark = pytest.mark.slow  # loads the real model or starts a server

FAST = SearchOptions(k=2, reasoning=True, hybrid=False)


@pytest.fixture(scope="module")
def service(tmp_path_factory, trained):
    db = tmp_path_factory.mktemp("app") / "db"
    return ChatService(trained, IndexLocation.embedded(db), LocalChatModel(embedder=trained, max_new_tokens=20))


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


def test_ask_streams_trace_passages_and_a_cited_answer(uploaded, service):
    replies = list(
        service.ask("When was the Fastnet lighthouse first lit?", SearchOptions(k=2, reasoning=True), "docs")
    )
    first, last = replies[0], replies[-1]
    assert first.trace and first.passages and not first.answer  # retrieval shows before the answer
    assert len(replies) > 3 and last.done and last.answer.strip()
    assert len({len(r.answer) for r in replies}) > 2  # the answer grows as it streams
    assert "lighthouse.txt" in {h.metadata["file_name"] for h in last.passages}
    (direct,) = [
        r
        for r in service.ask("When was the Fastnet lighthouse first lit?", SearchOptions(k=1, reasoning=False), "docs")
        if r.done
    ]
    assert direct.trace is None and direct.passages[0].metadata["file_name"] == "lighthouse.txt"
    shown = passages_markdown(last)
    assert "**[1]** lighthouse.txt" in shown and "score" in shown
    rendered = answer_markdown(last)
    assert ("**Cited:**" in rendered or "**Answered from:**" in rendered) and "lighthouse.txt" in rendered


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


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`python -m app` on a fresh index, stopped after the module."""
    port = free_port()
    db = tmp_path_factory.mktemp("server") / "db"
    proc = subprocess.Popen([sys.executable, "-m", "app", "--db", str(db), "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    wait_for_http(url, proc, timeout=180)
    yield url
    proc.terminate()
    proc.wait(timeout=30)


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


def test_the_api_shares_the_page_port(server):
    import openai

    api = openai.OpenAI(base_url=f"{server}/v1", api_key="open-on-loopback", max_retries=0)
    assert api.models.list().data[0].id == "searchr3"
    with pytest.raises(openai.NotFoundError, match="no collection"):  # nothing indexed on this server yet
        api.chat.completions.create(model="searchr3", messages=[{"role": "user", "content": "hi"}])


def test_page_has_no_outside_assets(server):
    body = urllib.request.urlopen(server, timeout=10).read().decode()
    assert "searchr3" in body
    for marker in ("fonts.googleapis", "cdn.jsdelivr", "unpkg.com", "cdnjs"):
        assert marker not in body


def test_bad_model_path_is_one_line_and_nonzero(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "app", "--model", str(tmp_path / "missing")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 1
    assert out.stderr.strip().startswith("error: model not found") and len(out.stderr.strip().splitlines()) == 1
