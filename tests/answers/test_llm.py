"""``--llm``: answers written by a model behind an OpenAI-compatible HTTP endpoint.

The endpoint is a real HTTP server started by the test: searchr3's own API, whose
``searchr3-chat`` model is the local LM chatting without retrieval, reached through
``langchain-openai``'s ``ChatOpenAI`` exactly as a llama.cpp, vLLM or Ollama server would be."""

import pytest

from bench.net import free_port
from searchr3 import SearchOptions
from searchr3.answers.answerers import GenerativeAnswerer
from searchr3.answers.local_chat import LocalChatModel
from searchr3.answers.openai_endpoint import openai_chat_model
from searchr3.errors import InvalidInputError, ModelLoadError, ModelNotFoundError
from searchr3.index.vectors import IndexLocation
from searchr3.serving.api import create_api
from searchr3.serving.launch import answerer, parse_server_args
from searchr3.serving.service import ChatService
from tests.api_server import running

QUESTION = "When was the Fastnet lighthouse first lit?"


@pytest.fixture(scope="module")
def endpoint(trained, tmp_path_factory):
    local = LocalChatModel(embedder=trained, max_new_tokens=40)
    service = ChatService(trained, IndexLocation.embedded(tmp_path_factory.mktemp("endpoint") / "db"), local)
    with running(create_api(service)) as url:
        yield f"{url}/v1"


def test_the_answer_step_streams_from_the_endpoint(endpoint, trained, tmp_path):
    args = parse_server_args("python -m app", "", 7860, ["--llm", endpoint, "--llm-model", "searchr3-chat"])
    remote = answerer(args, trained)
    assert isinstance(remote, GenerativeAnswerer) and remote.chat.model_name == "searchr3-chat"
    remote.chat = remote.chat.model_copy(update={"max_tokens": 40})

    doc = tmp_path / "lighthouse.txt"
    doc.write_text("The Fastnet lighthouse was first lit in 1854. Its keepers rowed out every Monday.")
    service = ChatService(trained, IndexLocation.embedded(tmp_path / "db"), answerer=remote)
    service.upload([doc], "docs")
    (reply,) = [r for r in service.ask(QUESTION, SearchOptions(k=1), "docs") if r.done]
    assert not reply.error and reply.passages[0].metadata["file_name"] == "lighthouse.txt"

    # over HTTP, streamed: the same greedy answer the local model writes for the same prompt
    local = GenerativeAnswerer(LocalChatModel(embedder=trained, max_new_tokens=40))
    assert reply.answer == "".join(local.stream(reply.search, reply.passages))
    pieces = list(remote.chat.stream([("user", "Say hello.")]))
    assert len(pieces) > 3 and "".join(p.text for p in pieces).strip()


def test_endpoint_problems_are_one_line_errors(endpoint, trained):
    first = openai_chat_model(endpoint)  # no model named: the first the endpoint lists
    assert first.model_name == "searchr3"
    with pytest.raises(ModelNotFoundError, match="has no model 'gpt-9'.*lists searchr3, searchr3-chat"):
        openai_chat_model(endpoint, "gpt-9")
    with pytest.raises(ModelLoadError, match="did not answer"):
        openai_chat_model(f"http://127.0.0.1:{free_port()}/v1")
    args = parse_server_args("python -m app", "", 7860, ["--llm", endpoint, "--answer", "extract"])
    with pytest.raises(InvalidInputError, match="cannot be combined"):
        answerer(args, trained)
