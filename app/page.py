"""The Gradio page. Handlers are plain functions of an :class:`~searchr3.Embedder` so they
can be tested without a browser."""

from __future__ import annotations

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402

from searchr3 import Embedder, SearchR3Error  # noqa: E402

INTRO = (
    "### searchr3\n"
    "Ask a question: the model reasons about what you need, then emits `<|embed_token|>`; "
    "its hidden state there is the search vector."
)


def analyse(embedder: Embedder, question: str, reasoning: bool) -> tuple[str, str]:
    """Return (trace markdown, status line) for ``question``."""
    try:
        if reasoning:
            (result,) = embedder.reason([question])
            trace, vector, cut = result.trace or "_(no trace)_", result.vector, result.truncated
        else:
            encoded = embedder.encode([question], role="query")
            trace, vector, cut = "_(reasoning is off)_", encoded.vectors[0], encoded.truncated[0]
    except SearchR3Error as exc:
        return "", f"**Error:** {exc}"
    status = f"Embedded into {vector.shape[0]} dimensions with `{embedder.fingerprint}`."
    if cut:
        status += " The question was too long and was cut."
    return trace, status


def build(embedder: Embedder) -> gr.Blocks:
    """The page for ``embedder``."""
    with gr.Blocks(title="searchr3", analytics_enabled=False) as page:
        gr.Markdown(INTRO)
        with gr.Row():
            question = gr.Textbox(label="Question", scale=4, elem_id="question")
            reasoning = gr.Checkbox(label="Reason first", value=True, elem_id="reasoning")
        ask = gr.Button("Ask", variant="primary", elem_id="ask")
        trace = gr.Markdown(label="Reasoning trace", elem_id="trace")
        status = gr.Markdown(elem_id="status")
        ask.click(lambda q, r: analyse(embedder, q, r), [question, reasoning], [trace, status])
        question.submit(lambda q, r: analyse(embedder, q, r), [question, reasoning], [trace, status])
    page.queue(default_concurrency_limit=1)
    return page
