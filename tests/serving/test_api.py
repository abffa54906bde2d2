"""The OpenAI-compatible API, driven by the official ``openai`` client against a real server."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import urllib.error
import urllib.request

import httpx
import numpy as np
import openai
import pytest

from searchr3.answers.answerers import GenerativeAnswerer
from searchr3.answers.local_chat import LocalChatModel
from searchr3.errors import InvalidInputError, SearchR3Error
from searchr3.index.vectors import IndexLocation, VectorIndex
from searchr3.ingestion import Ingestor
from searchr3.serving.api import check_bind, create_api, is_loopback
from searchr3.serving.api.security import key_matches
from searchr3.serving.service import ChatService, safe_file_name
from tests.api_server import running

PLANTED = {
    "lighthouse.txt": "The Skerryvore lighthouse stands on a reef off Tiree and was first lit in 1844.",
    "basalt.txt": "Basalt forms when lava rich in iron and magnesium cools quickly at the surface.",
    "tea.txt": "Green tea is steamed or pan-fired soon after picking, which stops oxidation.",
}


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    docs = tmp_path_factory.mktemp("api-docs")
    for name, text in PLANTED.items():
        (docs / name).write_text(text)
    return docs


@pytest.fixture(scope="module")
def service(tiny, folder, tmp_path_factory):
    location = IndexLocation.embedded(tmp_path_factory.mktemp("api") / "db")
    Ingestor(tiny, VectorIndex(location, tiny.fingerprint, tiny.dim, create=True)).run([folder])
    # the model writes (rather than quotes) here, so generation settings can be tested
    return ChatService(tiny, location, answerer=GenerativeAnswerer(LocalChatModel(embedder=tiny,
                                                                                      max_new_tokens=24)))


@pytest.fixture(scope="module")
def url(service):
    with running(create_api(service)) as base:
        yield base


@pytest.fixture(scope="module")
def client(url):
    return openai.OpenAI(base_url=f"{url}/v1", api_key="unused-on-loopback", max_retries=0, timeout=300)


def test_models(client, tiny):
    card, plain = client.models.list().data
    assert card.id == "searchr3" and card.model_extra["fingerprint"] == tiny.fingerprint
    assert card.model_extra["query_fingerprint"] == tiny.query_fingerprint  # (no query adapter here)
    assert plain.id == "searchr3-chat"  # the local model chatting without retrieval (tests/answers/test_llm.py)
    assert client.models.retrieve("searchr3").id == "searchr3"
    assert client.models.retrieve("searchr3-chat").id == "searchr3-chat"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("gpt-4")
    with pytest.raises(openai.NotFoundError, match="use 'searchr3'"):  # embeddings only with searchr3
        client.embeddings.create(model="searchr3-chat", input="x")


def test_embeddings_equal_embedder_vectors(client, tiny):
    texts = list(PLANTED.values())
    # the openai client asks for base64 by default; floats on request; both decode to our vectors
    b64 = client.embeddings.create(model="searchr3", input=texts)
    floats = client.embeddings.create(model="searchr3", input=texts, encoding_format="float")
    want = tiny.embed_documents(texts)
    for got in (b64, floats):
        assert [d.index for d in got.data] == [0, 1, 2]
        np.testing.assert_allclose(np.array([d.embedding for d in got.data]), want, atol=1e-5)
    assert b64.usage.prompt_tokens == sum(len(tiny.tokenizer(t)["input_ids"]) for t in texts)
    query = client.embeddings.create(model="searchr3", input="when was the lighthouse lit?",
                                      extra_body={"input_type": "query"})
    np.testing.assert_allclose(query.data[0].embedding, tiny.embed_query("when was the lighthouse lit?"),
                               atol=1e-5)
    assert not np.allclose(query.data[0].embedding, tiny.embed_documents(["when was the lighthouse lit?"])[0])


def test_reasoning_embeddings_return_the_trace(client, tiny):
    got = client.embeddings.create(model="searchr3", input=["how do volcanoes make rock?"], encoding_format="float",
                                   extra_body={"input_type": "query", "reasoning": True})
    (want,) = tiny.reason(["how do volcanoes make rock?"])
    assert got.data[0].model_extra["trace"] == want.trace and want.trace
    np.testing.assert_allclose(got.data[0].embedding, want.vector, atol=1e-4)


def test_streamed_chat_answer_cites_its_sources(client):
    question = [{"role": "user", "content": "When was the Skerryvore lighthouse first lit?"}]
    chunks = list(client.chat.completions.create(model="searchr3", messages=question, stream=True,
                                                 stream_options={"include_usage": True}))
    first, *rest = chunks
    sources = first.model_extra["sources"]
    assert [s["index"] for s in sources] == list(range(1, len(sources) + 1))
    assert sources[0]["metadata"]["file_name"] == "lighthouse.txt" and "1844" in sources[0]["text"]
    streamed = "".join(c.choices[0].delta.content or "" for c in rest if c.choices)
    assert streamed.strip()
    (final,) = [c for c in rest if c.choices and c.choices[0].finish_reason == "stop"]
    assert set(final.model_extra["citations"]) <= {s["index"] for s in sources}
    assert chunks[-1].usage.completion_tokens > 0 and not chunks[-1].choices
    # the same request whole: the same (greedy) answer and the same sources
    whole = client.chat.completions.create(model="searchr3", messages=question)
    assert whole.choices[0].message.content == streamed
    assert [s["id"] for s in whole.model_extra["sources"]] == [s["id"] for s in sources]


def test_follow_ups_highlights_and_source_links(client, url, service):
    messages = [{"role": "user", "content": "When was the Skerryvore lighthouse first lit?"},
                {"role": "assistant", "content": "In 1844 [1]."},
                {"role": "user", "content": "And where does it stand?"}]
    answer = client.chat.completions.create(model="searchr3", messages=messages, max_tokens=8)
    extra = answer.model_extra
    assert extra["search"] == "And where does it stand? (skerryvore lighthouse first lit)"
    top = extra["sources"][0]
    assert top["metadata"]["file_name"] == "lighthouse.txt" and top["highlights"] == [[0, len(top["text"])]]
    assert extra["warning"] is None
    with urllib.request.urlopen(url + top["link"], timeout=30) as opened:  # the reader checks the citation
        assert opened.read().decode() == PLANTED["lighthouse.txt"]
        assert opened.headers["Content-Type"].startswith("text/plain")
    forged = top["link"].replace(top["id"], extra["sources"][1]["id"])
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(url + forged, timeout=30)
    assert e.value.code == 403 and json.loads(e.value.read())["error"]["code"] == "invalid_signature"
    missing = service.links.url(service.location.collection, "no-such-chunk")
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(url + missing, timeout=30)
    assert e.value.code == 404 and json.loads(e.value.read())["error"]["code"] == "source_not_found"
    assert service.low_relevance is None  # the bare model: the threshold was chosen for the shipped adapter


def test_chat_options_and_collections(client):
    asked = client.chat.completions.create(
        model="searchr3", messages=[{"role": "user", "content": "What stops tea oxidising?"}],
        max_tokens=4, extra_body={"k": 1, "hybrid": True})
    assert [s["metadata"]["file_name"] for s in asked.model_extra["sources"]] == ["tea.txt"]
    assert asked.usage.completion_tokens <= 5
    with pytest.raises(openai.NotFoundError, match="no collection 'nothing-here'"):
        client.chat.completions.create(model="searchr3", messages=[{"role": "user", "content": "hi"}],
                                       extra_body={"collection": "nothing-here"})


def _error(exc_info) -> dict:
    return exc_info.value.body


def test_bad_requests_get_openai_errors(client, url):
    with pytest.raises(openai.NotFoundError) as e:
        client.embeddings.create(model="gpt-4", input="x")
    assert _error(e)["code"] == "model_not_found"
    with pytest.raises(openai.BadRequestError) as e:
        client.embeddings.create(model="searchr3", input="word " * 4000)  # far past 512 tokens: refused, not cut
    assert _error(e)["code"] == "context_length_exceeded" and "max_document_tokens" in _error(e)["message"]
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(model="searchr3", messages=[{"role": "user", "content": "why " * 3000}])
    assert _error(e)["code"] == "context_length_exceeded"
    for bad, where in [
        (dict(input=""), "empty"),
        (dict(input=[[1, 2, 3]]), "token ids"),
        (dict(input="x", extra_body={"reasoning": True}), "input_type"),
        (dict(input="x", dimensions=64), "dimensions"),
        (dict(input="x", extra_body={"colour": "red"}), "colour"),
    ]:
        with pytest.raises(openai.BadRequestError, match=where):
            client.embeddings.create(model="searchr3", **bad)
    with pytest.raises(openai.BadRequestError, match="messages"):
        client.chat.completions.create(model="searchr3", messages=[])
    with pytest.raises(openai.BadRequestError, match="collection name"):
        client.chat.completions.create(model="searchr3", messages=[{"role": "user", "content": "hi"}],
                                       extra_body={"collection": "../db"})
    as_json = {"content-type": "application/json"}
    malformed = httpx.post(f"{url}/v1/embeddings", content=b"{not json", headers=as_json)
    assert malformed.status_code == 400
    assert malformed.json()["error"]["message"] == "the request body is not valid JSON"
    missing = httpx.post(f"{url}/v1/chat/completions", json={"messages": [{"role": "user", "content": "hi"}]})
    assert missing.status_code == 400 and missing.json()["error"]["param"] == "model"
    huge = httpx.post(f"{url}/v1/embeddings", content=b"x" * (17 * 2**20), headers=as_json)
    assert huge.status_code == 413 and huge.json()["error"]["code"] == "request_too_large"
    assert httpx.get(f"{url}/v1/nothing").json()["error"]["message"] == "Not Found"


def test_upload_adds_documents_and_names_stay_in_their_folder(client, url, service, tmp_path):
    files = [
        ("files", ("../../escape.txt", b"The Bell Rock lighthouse was built by Robert Stevenson.", "text/plain")),
        ("files", ("broken.pdf", b"%PDF-1.4 not really a pdf", "application/pdf")),
        ("files", ("notes.xyz", b"unsupported", "application/octet-stream")),
    ]
    r = httpx.post(f"{url}/v1/collections/uploads-1/files", files=files, timeout=300)
    assert r.status_code == 200, r.text
    summary = r.json()
    assert summary["files_indexed"] == 1 and summary["files_failed"] == 1 and summary["files_skipped"] == 1
    assert summary["failures"][0]["path"] == "broken.pdf" and summary["skipped"] == ["notes.xyz"]
    uploads = service.location.path / "uploads"
    assert (uploads / "uploads-1" / "escape.txt").is_file()
    assert not (service.location.path / "escape.txt").exists() and not (uploads / "escape.txt").exists()
    assert httpx.get(f"{url}/v1/collections/uploads-1").json()["files"] == 1
    answer = client.chat.completions.create(
        model="searchr3", messages=[{"role": "user", "content": "Who built the Bell Rock lighthouse?"}],
        max_tokens=4, extra_body={"collection": "uploads-1"})
    assert answer.model_extra["sources"][0]["metadata"]["file_name"] == "escape.txt"
    again = httpx.post(f"{url}/v1/collections/uploads-1/files", files=files[:1], timeout=300).json()
    assert again["files_unchanged"] == 1 and again["chunks_added"] == 0
    bad = httpx.post(f"{url}/v1/collections/uploads-1/files", files=[("files", ("..", b"x", "text/plain"))])
    assert bad.status_code == 400 and "file name" in bad.json()["error"]["message"]
    assert httpx.post(f"{url}/v1/collections/uploads-1/files", data={"x": "1"}).status_code == 400


def test_a_key_guards_every_route(service):
    with running(create_api(service, api_key="s3cret")) as base:
        wrong = openai.OpenAI(base_url=f"{base}/v1", api_key="guess", max_retries=0)
        with pytest.raises(openai.AuthenticationError) as e:
            wrong.embeddings.create(model="searchr3", input="x")
        assert _error(e)["code"] == "invalid_api_key"
        for path in ("/v1/models", "/v1/collections/documents", "/v1/docs"):
            assert httpx.get(f"{base}{path}").status_code == 401
        right = openai.OpenAI(base_url=f"{base}/v1", api_key="s3cret", max_retries=0)
        assert len(right.embeddings.create(model="searchr3", input="x").data[0].embedding) == service.embedder.dim


def test_loopback_rules():
    assert all(is_loopback(h) for h in ("127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost"))
    assert not any(is_loopback(h) for h in ("0.0.0.0", "::", "192.168.1.4", "example.org"))
    check_bind("127.0.0.1", None)
    check_bind("0.0.0.0", "key")
    with pytest.raises(SearchR3Error, match="SEARCHR3_API_KEY"):
        check_bind("0.0.0.0", None)
    assert key_matches("Bearer k1", "k1") and key_matches("bearer k1", "k1")
    assert not key_matches("Bearer k2", "k1") and not key_matches(None, "k1") and not key_matches("k1", "k1")


def test_upload_names_keep_only_their_base_name():
    assert safe_file_name("../../etc/passwd") == "passwd"
    assert safe_file_name("C:\\Users\\me\\notes.md") == "notes.md"
    assert safe_file_name("/abs/path/report.pdf") == "report.pdf" and safe_file_name(".env") == ".env"
    for bad in ("", "..", ".", "dir/..", "a\x00b", "trailing/"):
        with pytest.raises(InvalidInputError, match="unusable file name"):
            safe_file_name(bad)


@pytest.mark.parametrize("module", ["searchr3.serving", "app"])
@pytest.mark.tiny  # starts a process
def test_open_bind_without_a_key_exits_with_one_line(module, monkeypatch):
    monkeypatch.delenv("SEARCHR3_API_KEY", raising=False)
    out = subprocess.run([sys.executable, "-m", module, "--host", "0.0.0.0"], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: refusing to serve on 0.0.0.0 without an API key")


def test_base64_is_little_endian_float32(client):
    body = {"model": "searchr3", "input": "x", "encoding_format": "base64"}
    raw = httpx.post(f"{client.base_url}embeddings", json=body)
    vec = np.frombuffer(base64.b64decode(raw.json()["data"][0]["embedding"]), dtype="<f4")
    floats = json.loads(httpx.post(f"{client.base_url}embeddings", json={"model": "searchr3", "input": "x"}).text)
    np.testing.assert_array_equal(vec, np.array(floats["data"][0]["embedding"], dtype=np.float32))


@pytest.mark.tiny  # starts a process
def test_app_with_a_key_guards_the_page_and_the_api(tmp_path):
    """`python -m app --api-key`: one port; the page asks for the key as password, the API as bearer."""
    from bench.net import free_port, wait_for_http
    from tests.index_tools import model_args

    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "app", "--db", str(tmp_path / "db"), "--port", str(port),
                             "--api-key", "s3cret", "--answer", "extract", *model_args()],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(base, proc, timeout=180)
        assert httpx.get(f"{base}/config").status_code == 401  # the page's data needs a login
        assert httpx.post(f"{base}/login", data={"username": "me", "password": "guess"}).status_code != 200
        with httpx.Client(base_url=base) as browser:
            assert browser.post("/login", data={"username": "me", "password": "s3cret"}).status_code == 200
            assert browser.get("/config").status_code == 200
        assert httpx.get(f"{base}/v1/models").status_code == 401
        api = openai.OpenAI(base_url=f"{base}/v1", api_key="s3cret", max_retries=0)
        assert api.models.list().data[0].id == "searchr3"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_list_and_remove_files(client, url):
    files = [("files", (f"{n}.txt", text.encode(), "text/plain")) for n, text in
             (("kiln", "A kiln fires clay into ceramic at about a thousand degrees."),
              ("loom", "A loom weaves warp and weft threads into cloth."))]
    assert httpx.post(f"{url}/v1/collections/crafts/files", files=files, timeout=300).status_code == 200
    listed = httpx.get(f"{url}/v1/collections/crafts/files").json()["data"]
    assert [(f["file_name"], f["chunks"]) for f in listed] == [("kiln.txt", 1), ("loom.txt", 1)]
    assert all(f["indexed_at"] and f["source"].endswith(f["file_name"]) for f in listed)

    def found(question: str) -> list[str]:
        reply = client.chat.completions.create(model="searchr3", messages=[{"role": "user", "content": question}],
                                               max_tokens=1, extra_body={"collection": "crafts", "hybrid": True})
        return [s["metadata"]["file_name"] for s in reply.model_extra["sources"]]

    assert found("How is clay fired?")[0] == "kiln.txt"
    gone = httpx.delete(f"{url}/v1/collections/crafts/files", params={"source": listed[0]["source"]})
    assert gone.status_code == 200 and gone.json()["chunks_removed"] == 1
    assert [f["file_name"] for f in httpx.get(f"{url}/v1/collections/crafts/files").json()["data"]] == ["loom.txt"]
    assert found("How is clay fired?") == ["loom.txt"]  # dense and BM25 both forgot it
    again = httpx.delete(f"{url}/v1/collections/crafts/files", params={"source": listed[0]["source"]})
    assert again.status_code == 404 and again.json()["error"]["code"] == "file_not_found"


def test_documents_keep_code_and_tables_and_passages_link_to_their_section(client, url, tmp_path):
    """A manual's HTML page (navigation, table of contents, a '#'-prompt code block, a table, section ids),
    a Markdown note with a fenced block and a PDF, uploaded: the passages come back with code fenced as
    written, tables as rows with their header, no table-of-contents passage, and links to the section."""
    from tests.docs import STRUCTURED, write_pdf

    pdf = write_pdf(tmp_path / "rescue.pdf", [[
        ("Helvetica-Bold", 18, 72, 720, "Rescue disks"),
        ("Helvetica", 11, 72, 690, "Rescue disks boot a broken system from a USB stick. Write one with:"),
        ("Courier", 11, 90, 670, "# dd if=rescue.img of=/dev/sdb bs=4M"),
        ("Courier", 11, 90, 657, "# sync")]])
    files = [("files", ("manual.html", STRUCTURED.encode(), "text/html")),
             ("files", ("note.md", b"# Backups\n\nCopy the folder:\n\n```sh\n# rsync -a /etc /backup\n```\n",
                        "text/markdown")),
             ("files", ("rescue.pdf", pdf.read_bytes(), "application/pdf"))]
    added = httpx.post(f"{url}/v1/collections/manual/files", files=files, timeout=300).json()
    assert added["files_indexed"] == 3 and added["files_failed"] == 0

    def top(question: str) -> dict:
        answer = client.chat.completions.create(model="searchr3", messages=[{"role": "user", "content": question}],
                                                max_tokens=1, extra_body={"collection": "manual", "k": 8})
        return answer.model_extra["sources"]

    sources = top("mkdir mount the old system as root")
    code = sources[0]
    assert "```\n# mkdir -p /path/to/old/system\n# mount /dev/sda1 /path/to/old/system\n" in code["text"]
    assert code["link"].endswith("#restoring") and code["metadata"]["heading"] == "Restoring a system"
    texts = [s["text"] for s in sources]
    assert not any("Table of Contents" in t or "Prev" in t for t in texts)  # furniture is not indexed
    table = top("grub2 grub-rescue-pc package popcon size")[0]
    assert table["text"].startswith("| package | popcon | size |\n| --- | --- | --- |\n")
    assert table["link"].endswith("#packages")
    note = top("rsync backup etc")[0]
    assert note["metadata"]["file_name"] == "note.md" and "```sh\n# rsync -a /etc /backup\n```" in note["text"]
    rescue = top("rescue disks boot broken system usb")[0]
    assert rescue["metadata"]["page"] == 1 and rescue["link"].endswith("#page=1")
    assert rescue["metadata"]["heading"] == "Rescue disks"  # a PDF's heading, told by its type size
    assert "```\n# dd if=rescue.img of=/dev/sdb bs=4M\n# sync\n```" in rescue["text"]  # its code, by typeface
