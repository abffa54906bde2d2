"""Pieces every searchr3 command line shares: model and index options, one-line errors."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from .config import DEFAULT_ADAPTER, ModelConfig
from .index import DEFAULT_COLLECTION, IndexLocation, default_db_path
from .precision import DECODE_PRECISIONS, PRECISIONS


def add_model_args(ap: argparse.ArgumentParser) -> None:
    """``--model``, ``--adapter``, ``--query-adapter``, ``--precision`` and ``--decode-precision``."""
    ap.add_argument("--model", default=ModelConfig.model, help="default: the embedded SmolLM2-135M-Instruct")
    ap.add_argument("--adapter", default=DEFAULT_ADAPTER,
                    help="LoRA adapter directory; 'default': the shipped trained adapter; 'none': the bare model")
    ap.add_argument("--query-adapter", default=DEFAULT_ADAPTER,
                    help="adapter that reads plain queries; 'default': the shipped query adapter (with the default "
                         "adapter only); 'none': the document model reads them")
    ap.add_argument("--precision", default="auto", choices=("auto", *PRECISIONS),
                    help="auto: bfloat16 on a GPU or a CPU with native bf16 arithmetic, else float32")
    ap.add_argument("--decode-precision", default="auto", choices=("auto", *DECODE_PRECISIONS),
                    help="weights that write traces and answers; auto (checked) on a CPU running bfloat16: "
                         "int8 drafts checked by float32, the float32 model's own greedy text; "
                         "int8: faster, its own text; same: the model's precision")


def model_config(args: argparse.Namespace) -> ModelConfig:
    """The model configuration the model options name."""
    return ModelConfig(model=args.model, adapter=args.adapter, query_adapter=args.query_adapter,
                       precision=args.precision, decode_precision=args.decode_precision)


def add_index_args(ap: argparse.ArgumentParser) -> None:
    """``--db DIR`` or ``--chroma-host H --chroma-port P``, and ``--collection``."""
    where = ap.add_mutually_exclusive_group()
    where.add_argument("--db", type=Path, default=None, help=f"embedded index directory (default {default_db_path()})")
    where.add_argument("--chroma-host", default=None, help="use a Chroma server (chroma run) at this host")
    ap.add_argument("--chroma-port", type=int, default=8000)
    ap.add_argument("--collection", default=DEFAULT_COLLECTION)


def index_location(args: argparse.Namespace) -> IndexLocation:
    """The location the index options name."""
    return IndexLocation.resolve(args.db, args.chroma_host, args.chroma_port, args.collection)


KEY_ENV = "SEARCHR3_API_KEY"


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
    from .answer_model import DEFAULT_ANSWER_MODEL, SHIPPED

    ap.add_argument("--answer", default=None, choices=("extract", "generate"),
                    help="generate (default): a model writes the answer from the passages, and sentences naming"
                         " what the passages do not say are left out; extract: quote the passages' best sentences")
    ap.add_argument("--answer-model", default=DEFAULT_ANSWER_MODEL, metavar="NAME|PATH",
                    help=f"the model that writes answers: {', '.join(SHIPPED)} (default, shipped), 'searcher' (the"
                         " search model itself), or a model folder or .gguf file")
    ap.add_argument("--llm", default=None, metavar="URL",
                    help="an OpenAI-compatible endpoint that writes the answers, e.g. http://127.0.0.1:8080/v1"
                         " (key: $SEARCHR3_LLM_API_KEY or $OPENAI_API_KEY)")
    ap.add_argument("--llm-model", default=None, help="the endpoint's model id (default: the first it lists)")


def answer_setup(args: argparse.Namespace, embedder):
    """``(answerer, chat model)`` as the answer options say: the answer model (or ``--llm``'s)
    writing, checked, or quotes (no chat model then). Without ``--answer generate``, an answer model
    that is not installed falls back to quotes with a one-line warning. Raises
    :class:`InvalidInputError` for ``--llm`` with ``--answer extract``."""
    from .answer_model import load_answer_model
    from .answering import EXCERPT_WORDS, ExtractiveAnswerer, GenerativeAnswerer
    from .chat import LocalChatModel
    from .errors import InvalidInputError, ModelNotFoundError

    if args.llm and args.answer == "extract":
        raise InvalidInputError("--llm writes answers; it cannot be combined with --answer extract")
    if args.answer == "extract":
        return ExtractiveAnswerer(), None
    if args.llm:
        from .llm import openai_chat_model

        chat = openai_chat_model(args.llm, args.llm_model)
        return GenerativeAnswerer(chat), chat
    if args.answer_model == "searcher":
        chat = LocalChatModel(embedder=embedder, max_new_tokens=200)
        return GenerativeAnswerer(chat), chat
    try:
        model = load_answer_model(args.answer_model)  # its own precision: bf16 where the CPU has it (int8 decoding)
    except ModelNotFoundError as exc:
        if args.answer == "generate":
            raise
        print(f"warning: {' '.join(str(exc).split())}; answers quote the passages instead", file=sys.stderr)
        return ExtractiveAnswerer(), None
    chat = LocalChatModel(model=model, max_new_tokens=200)
    return GenerativeAnswerer(chat, excerpt_words=EXCERPT_WORDS), chat


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
    from .api import check_bind
    from .embedder import Embedder
    from .errors import SearchR3Error
    from .service import ChatService

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


def print_error(message: object) -> None:
    """``error: MESSAGE`` as one line on stderr (whitespace and newlines collapsed)."""
    print(f"error: {' '.join(str(message).split())}", file=sys.stderr)


def exit_promptly(code: int) -> None:
    """End a command with ``code`` without collecting, one by one, the objects still alive (a
    loaded model and index hold millions): ``gc.freeze()`` first, then ``sys.exit``. Everything
    a command writes is committed before it returns, so nothing is lost; the exit takes a fraction
    of a second instead of seconds (``ingest --watch``: 0.2 s against 1.3 s, idle)."""
    import gc

    gc.freeze()
    sys.exit(code)


def stop_on_sigterm() -> None:
    """Make SIGTERM (a service manager's stop, ``kill``) end the command as Ctrl-C does:
    ``KeyboardInterrupt``, so an update in flight is rolled forward by the next run and the
    command says it stopped."""
    import signal

    signal.signal(signal.SIGTERM, signal.default_int_handler)
