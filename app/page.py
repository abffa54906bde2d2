"""The Gradio page: the conversation on the left (each answer after its search step: what was
searched and, with reasoning, the trace, streamed, then collapsed); the retrieved passages on
the right (source links, best sentences marked); settings, upload and documents below. The
logic lives in :mod:`searchr3.serving.service`."""

from __future__ import annotations

import html
import os
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402

from app.passage_html import passage_html  # noqa: E402
from searchr3.errors import SearchR3Error  # noqa: E402
from searchr3.retrieval.options import SearchOptions  # noqa: E402
from searchr3.serving.service import DEFAULT_OPTIONS, ChatService, Reply  # noqa: E402

INTRO = (
    "## searchr3\n"
    "Ask about your documents, and follow up. The passages that match your question are shown on the right, "
    "with links to where they are in your files; the answer is written from them and cites them, and "
    "sentences that state what the passages do not say are left out."
)
# Beside the reasoning switch: what it costs (docs/results.md) and what it shows.
REASONING_NOTE = ("off by default: on our test questions, searching after the model's reasoning found the right"
                  " passage less often; on, it shows what the model made of your question before searching")


def passages_markdown(reply: Reply, links=None, collection: str = "") -> str:
    """The passages with file, page and heading, a link to the source (with ``links``, a
    :class:`~searchr3.serving.source_links.SourceLinks`) and their best sentences marked; each passage's
    text is shown as written (escaped, line breaks and indentation kept), not read as Markdown."""
    if not reply.passages:
        return "_No passages yet._"
    blocks = []
    spans = reply.highlights or [[] for _ in reply.passages]
    for h, found in zip(reply.passages, spans):
        m = h.metadata
        name = html.escape(m.get("file_name") or m.get("source", "?"))
        where = [f'<a href="{links.url(collection, h.id, m, h.text)}" target="_blank" rel="noopener">{name}</a>'
                 if links else name]
        if m.get("page") is not None:
            where.append(f"page {m['page']}")
        if m.get("heading"):  # where it sits: "Manual › Chapter › Section" where the file has levels
            where.append(f"§ {html.escape(str(m.get('heading_path') or m['heading']))}")
        # the text as written (app.passage_html): escaped, code in monospace, tables as tables, one HTML block
        body = passage_html(h.text, found)
        blocks.append(f"**[{h.rank}]** {' · '.join(where)} — score {h.score:.3f}\n\n"
                      f'<div class="passage-text">{body}</div>')
    return "\n\n".join(blocks)


def search_message(reply: Reply, reasoning: bool) -> dict:
    """The assistant's thinking step: what was searched and, with reasoning, the trace; pending
    until the passages are in, then collapsed with its duration."""
    searched = reply.search or ""
    if reasoning:
        title = "Reasoning before the search"
        pending = "_no trace_" if reply.passages or reply.done else "_thinking…_"
        content = (html.escape(reply.trace) if reply.trace else pending) + (
            f"\n\n**Searched:** {html.escape(searched)}" if searched else "")
    else:
        title = "Searched: " + (searched if len(searched) < 90 else searched[:87] + "…") if searched else "Searching…"
        content = f"**Searched:** {html.escape(searched)}" if searched else "_searching…_"
    meta = {"title": title, "status": "done" if reply.passages or reply.done else "pending"}
    if "search" in reply.seconds:
        meta["duration"] = round(reply.seconds["search"], 2)
    return {"role": "assistant", "content": content, "metadata": meta}


def answer_markdown(reply: Reply, links=None, collection: str = "") -> str:
    if reply.error:
        return f"⚠️ {reply.error}"
    text = reply.answer or "…"
    if text.count("```") % 2:  # an answer cut inside a code block: close it, so what follows is not code
        text += "\n```"
    if reply.warning:
        text = f"⚠️ _{reply.warning}_\n\n" + text
    if reply.done and reply.passages:
        hits = {h.rank: h for h in reply.passages}
        refs = reply.citations
        # a weak match says so; an answer that cites nothing lists what it was given, not "answered from"
        label = "Cited" if refs else ("Closest passages (weak matches)" if reply.warning else "Passages shown")

        def ref(i: int) -> str:
            h = hits[i]
            name = h.metadata.get("file_name") or h.metadata.get("source", "?")
            return f"[{i}] [{name}]({links.url(collection, h.id, h.metadata, h.text)})" if links else f"[{i}] {name}"

        text += f"\n\n**{label}:** " + " · ".join(ref(i) for i in (refs or sorted(hits)))
    return text


def message_text(content) -> str:
    """The text of a chat message's content as Gradio hands it back: a string, or (Gradio 6) a
    list of typed parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(p.get("text", "") if isinstance(p, dict) else str(p) for p in content)
    return ""


def counted(n: int, noun: str) -> str:
    """``1 file``, ``2 files``."""
    return f"{n} {noun}" + ("" if n == 1 else "s")


def stats_markdown(stats: dict) -> str:
    return (
        f"**Index** `{stats['collection']}`: {counted(stats['files'], 'file')}, {counted(stats['chunks'], 'chunk')}"
        f" · model `{stats['model']}`"
    )


def index_status(service: ChatService, collection: str) -> tuple[str, bool]:
    """The index line of a collection and whether the collection can be used; when it cannot
    (e.g. it holds another model's vectors) the line says why and how to re-embed it."""
    try:
        return stats_markdown(service.stats(collection)), True
    except SearchR3Error as exc:
        return f"⚠️ {exc}", False


def documents_table(service: ChatService, collection: str) -> tuple[list[list], dict]:
    """Rows (file, chunks, indexed, source) and the remove choices for a collection."""
    files = service.files(collection)
    rows = [[f["file_name"], f["chunks"], (f["indexed_at"] or "")[:19].replace("T", " "), f["source"]]
            for f in files]
    choices = [(f"{f['file_name']} ({f['source']})", f["source"]) for f in files]
    return rows, gr.update(choices=choices, value=None)


def build(service: ChatService, defaults: SearchOptions = DEFAULT_OPTIONS) -> gr.Blocks:
    """The page over ``service``; its settings start at ``defaults``."""
    default_collection = service.location.collection

    def ask(question, history, k, reasoning, hybrid, collection):
        history = list(history or [])
        asked = [message_text(m.get("content")) for m in history if m.get("role") == "user"]
        history.append({"role": "user", "content": question})
        options = defaults.merged(k=int(k), reasoning=bool(reasoning), hybrid=bool(hybrid))
        collection = (collection or '').strip() or default_collection
        yield history + [search_message(Reply(), options.reasoning)], gr.update(), ""
        for reply in service.ask(question, options, collection, asked):
            turn = [search_message(reply, options.reasoning)] if reply.search else []
            if reply.passages or reply.done:
                turn.append({"role": "assistant", "content": answer_markdown(reply, service.links, collection)})
            yield history + turn, passages_markdown(reply, service.links, collection), ""

    def upload(files, collection, progress=gr.Progress()):  # noqa: B008 (Gradio injects the tracker)
        collection = (collection or '').strip() or default_collection
        if not files:
            return "Choose files first."

        class Bar:  # files done, and within the file being stored its chunks done: the bar moves as chunks do
            def start(self, n):
                self.n, self.done, self.chunks, self.stored, self.name = max(n, 1), 0, 1, 0, ""
                progress(0, desc=f"reading {n} files")

            def file_started(self, path, chunks):
                self.chunks, self.stored, self.name = max(chunks, 1), 0, path.name
                self._show()

            def chunks_done(self, n):
                self.stored += n
                self._show()

            def file_done(self, result):
                self.done += 1
                self.chunks, self.stored = 1, 0
                progress(self.done / self.n, desc=f"{self.done} of {self.n} files")

            def _show(self):
                share = (self.done + min(self.stored / self.chunks, 1)) / self.n
                files_done = f"{self.done} of {self.n} files"
                progress(share, desc=f"{self.name}: {self.stored} of {self.chunks} chunks ({files_done})")

        paths = [f if isinstance(f, str) else f.name for f in files]
        try:
            summary = service.upload(paths, collection, Bar())
        except SearchR3Error as exc:  # e.g. another process is writing to the index
            return f"⚠️ {exc}"
        lines = [
            f"Indexed {counted(summary.files_indexed, 'file')} ({counted(summary.chunks_added, 'chunk')} added), "
            f"{summary.files_unchanged} unchanged, {summary.files_failed} failed, {summary.files_skipped} skipped."
        ]
        lines += [f"⚠️ {os.path.basename(f['path'])}: {f['error']}" for f in summary.failures]
        lines += [f"skipped (unsupported type): {os.path.basename(p)}" for p in summary.skipped]
        return "\n\n".join(lines)

    with gr.Blocks(title="searchr3", analytics_enabled=False) as page:
        gr.Markdown(INTRO)
        with gr.Row():
            with gr.Column(scale=3):
                chat = gr.Chatbot(label="Conversation", height=720, elem_id="chat")
                with gr.Row():
                    question = gr.Textbox(
                        placeholder="Ask a question about your documents",
                        show_label=False,
                        scale=5,
                        elem_id="question",
                    )
                    send = gr.Button("Ask", variant="primary", scale=1, elem_id="ask")
            with gr.Column(scale=2):
                gr.Markdown("### Retrieved passages")
                passages = gr.Markdown("_No passages yet._", elem_id="passages")
        with gr.Row():
            with gr.Column():
                with gr.Accordion("Settings", open=True):
                    k = gr.Slider(1, 10, value=defaults.k, step=1, label="passages (k)", elem_id="k")
                    reasoning = gr.Checkbox(
                        value=defaults.reasoning, label="reason before searching", info=REASONING_NOTE,
                        elem_id="reasoning"
                    )
                    hybrid = gr.Checkbox(value=defaults.hybrid, label="hybrid (dense + BM25)", elem_id="hybrid")
                    collection = gr.Dropdown(choices=service.collections(), value=default_collection,
                                             allow_custom_value=True, elem_id="collection",
                                             label="collection (choose one, or type a new name and upload)")
            with gr.Column():
                files = gr.File(
                    label="Upload documents (.txt .md .rst .html .pdf .docx)", file_count="multiple", elem_id="upload"
                )
                index_button = gr.Button("Index files", elem_id="index")
                # tall enough from the start that the progress shown over it while indexing can be seen
                upload_status = gr.Markdown("_Choose files above, then **Index files**._", elem_id="upload-status",
                                            min_height=70)
                stats = gr.Markdown(elem_id="stats")
        with gr.Accordion("Documents", open=False, elem_id="documents"):
            table = gr.Dataframe(headers=["file", "chunks", "indexed", "source"], interactive=False,
                                 elem_id="documents-table")
            with gr.Row():
                doomed = gr.Dropdown(label="file to remove", choices=[], elem_id="remove-choice", scale=4)
                remove = gr.Button("Remove", variant="stop", elem_id="remove", scale=1)
            with gr.Row(visible=False, elem_id="remove-confirm") as confirm_row:
                confirm_text = gr.Markdown(elem_id="remove-question")
                confirm = gr.Button("Yes, remove it", variant="stop", elem_id="remove-yes", scale=0)
                cancel = gr.Button("Cancel", elem_id="remove-cancel", scale=0)
            remove_status = gr.Markdown(elem_id="remove-status")
        inputs = [question, chat, k, reasoning, hybrid, collection]
        outputs = [chat, passages, question]
        send.click(ask, inputs, outputs, concurrency_id="model")
        question.submit(ask, inputs, outputs, concurrency_id="model")
        def refresh(c):
            c = (c or '').strip() or default_collection
            status, usable = index_status(service, c)
            if not usable:
                return status, [], gr.update(choices=[], value=None)
            return (status, *documents_table(service, c))

        def remove_file(source, c):
            c = (c or '').strip() or default_collection
            if not source:
                message = "Choose a file first."
            else:
                try:
                    message = f"Removed {Path(source).name} ({service.remove_file(source, c)} chunks)."
                except SearchR3Error as exc:
                    message = f"⚠️ {exc}"
            return (message, *refresh(c))

        def collections():
            return gr.update(choices=service.collections())

        listing = [stats, table, doomed]
        index_button.click(upload, [files, collection], [upload_status], concurrency_id="model").then(
            refresh, [collection], listing).then(collections, None, collection)  # a new one is listed
        def ask_to_remove(source):
            if not source:
                return gr.update(visible=False), "", "Choose a file first."
            question = (f"Remove **{html.escape(Path(source).name)}** from search? Its chunks leave the index at once;"
                        " the file itself stays on disk, and a later `ingest` of its folder brings it back.")
            return gr.update(visible=True), question, ""

        remove.click(ask_to_remove, [doomed], [confirm_row, confirm_text, remove_status])
        confirm.click(lambda: gr.update(visible=False), None, confirm_row).then(
            remove_file, [doomed, collection], [remove_status, *listing], concurrency_id="model")
        cancel.click(lambda: (gr.update(visible=False), "Nothing removed."), None, [confirm_row, remove_status])
        collection.change(refresh, [collection], listing)
        page.load(refresh, [collection], listing).then(collections, None, collection)
    # One model, so one job at a time; other requests wait in the queue.
    page.queue(default_concurrency_limit=1, max_size=64)
    return page


PASSAGE_CSS = """
.passage-text { white-space: pre-wrap; border-left: 3px solid var(--border-color-primary); padding-left: 0.75em;
                margin-bottom: 1em; font-size: 0.95em; }
.passage-text pre.passage-code { font-family: var(--font-mono); font-size: 0.9em; white-space: pre-wrap;
                background: var(--code-background-fill); padding: 0.4em 0.6em; margin: 0.4em 0; border-radius: 4px; }
.passage-text table { border-collapse: collapse; margin: 0.4em 0; white-space: normal; width: auto; }
.passage-text th, .passage-text td { border: 1px solid var(--border-color-primary); padding: 0.15em 0.5em;
                word-break: normal; overflow-wrap: normal; }
"""
THEME_FONTS = dict(font=["ui-sans-serif", "system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"])


def serve(page: gr.Blocks, service: ChatService, host: str, port: int, api_key: str | None = None) -> None:
    """Serve the page at ``/`` and the API under ``/v1`` on one port, offline (no analytics,
    system fonts). With ``api_key`` the API wants it as a bearer token and the page as password."""
    import uvicorn

    from searchr3.serving.api import create_api, page_auth

    api = create_api(service, api_key)
    app = gr.mount_gradio_app(api, page, "/", auth=page_auth(api_key), show_error=True, css=PASSAGE_CSS,
                              theme=gr.themes.Default(**THEME_FONTS), server_name=host, server_port=port)
    uvicorn.run(app, host=host, port=port, log_level="warning")
