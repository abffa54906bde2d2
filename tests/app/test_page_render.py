"""How the page renders a reply: marked evidence, source links, the thinking message."""

from app.page import answer_markdown, message_text, passages_markdown, search_message
from app.passage_html import passage_html
from searchr3.retrieval.searcher import RankedHit
from searchr3.serving.service import Reply
from searchr3.serving.source_links import SourceLinks


def test_passage_text_is_escaped_and_its_spans_marked():
    assert passage_html("a <b> c. D e.", [(9, 13)]) == "a &lt;b&gt; c. <mark>D e.</mark>"


def test_a_long_passage_shows_its_first_marked_span():
    text = "x " * 600 + "The answer is here." + " y" * 600
    start = text.index("The answer")
    out = passage_html(text, [(start, start + 19)], limit=200)
    assert out.startswith("… ") and out.endswith(" …") and "<mark>The answer is here.</mark>" in out
    assert len(out) < 260


def test_passages_link_to_their_source_and_answer_lists_citations():
    hit = RankedHit("c1", "Kilns fire clay. Glaze melts.", {"file_name": "kiln.pdf", "source": "/d/kiln.pdf",
                                                               "page": 2}, 1, 0.71, 0.71)
    links = SourceLinks(b"s" * 32)
    reply = Reply(search="kiln", passages=[hit], highlights=[[(0, 16)]], answer="> Kilns fire clay. [1] [7]",
                  done=True, warning="Low relevance: x")
    shown = passages_markdown(reply, links, "docs")
    assert links.url("docs", "c1", hit.metadata) in shown and "#page=2" in shown
    assert "<mark>Kilns fire clay.</mark>" in shown and "page 2" in shown
    answer = answer_markdown(reply, links, "docs")
    assert answer.startswith("⚠️ _Low relevance") and "**Cited:** [1] [kiln.pdf](/sources/docs/c1?sig=" in answer


def test_the_thinking_message_is_pending_until_passages_arrive():
    pending = search_message(Reply(search="q (topic)", trace="I need"), reasoning=True)
    assert pending["metadata"]["status"] == "pending" and pending["content"].startswith("I need")
    hit = RankedHit("c1", "t", {}, 1, 0.7)
    done = search_message(Reply(search="q (topic)", trace="I need x", passages=[hit], seconds={"search": 1.234}),
                          reasoning=True)
    assert done["metadata"] == {"title": "Reasoning before the search", "status": "done", "duration": 1.23}
    assert "**Searched:** q (topic)" in done["content"]
    plain = search_message(Reply(search="q (topic)", passages=[hit]), reasoning=False)
    assert plain["metadata"]["title"] == "Searched: q (topic)"


def test_message_text_reads_gradio_6_parts():
    assert message_text("plain") == "plain"
    assert message_text([{"type": "text", "text": "How do I"}, {"type": "text", "text": "branch?"}]) == \
        "How do I branch?"
    assert message_text(None) == ""


def test_an_answer_citing_nothing_is_not_labelled_as_answered_from_the_passages():
    hit = RankedHit("c1", "Kilns fire clay.", {"file_name": "kiln.pdf"}, 1, 0.41, 0.41)
    reply = Reply(search="tea?", passages=[hit], answer="The passages do not say.", done=True)
    assert "**Passages shown:** [1] kiln.pdf" in answer_markdown(reply)
    weak = answer_markdown(Reply(search="tea?", passages=[hit], answer="No.", done=True, warning="Low relevance: x"))
    assert "**Closest passages (weak matches):** [1] kiln.pdf" in weak and "Answered from" not in weak


def test_a_passage_is_shown_as_written_not_read_as_markdown():
    text = "Make the folder as root:\n\n# mkdir -p /path/to/old/system\n    *not bold* <b>x</b>"
    hit = RankedHit("c1", text, {"file_name": "ref.html"}, 1, 0.8, 0.8)
    shown = passages_markdown(Reply(search="q", passages=[hit], highlights=[[]]))
    body = shown.split('<div class="passage-text">', 1)[1]
    assert "\n" not in body  # one HTML block: Markdown never reads the text inside
    assert "root:<br><br># mkdir -p /path/to/old/system<br>    *not bold* &lt;b&gt;x&lt;/b&gt;</div>" in body


def test_an_answer_left_inside_a_code_block_does_not_swallow_its_citations():
    hit = RankedHit("c1", "json.dumps(obj, indent=4)", {"file_name": "json.html"}, 1, 0.8, 0.8)
    reply = Reply(search="q", passages=[hit], answer="Use this:\n\n```python\njson.dumps(obj, indent=4)", done=True)
    rendered = answer_markdown(reply)
    assert rendered.count("```") % 2 == 0 and rendered.endswith("**Passages shown:** [1] json.html")


def test_code_shows_as_code_and_a_table_as_a_table():
    text = ("Mount the old disk first, as root:\n\n```\n# mkdir -p /path/to/old/system\n    cd /path <x>\n```\n\n"
            "| package | size |\n| --- | --- |\n| grub-rescue-pc | 6422 |\n| a \\| b | 1 |\n\nThen *reboot*.")
    hit = RankedHit("c1", text, {"file_name": "ref.html"}, 1, 0.8, 0.8)
    shown = passages_markdown(Reply(search="q", passages=[hit], highlights=[[(0, 34)]]))
    body = shown.split('<div class="passage-text">', 1)[1]
    assert "\n" not in body and "```" not in body
    assert body.startswith("<mark>Mount the old disk first, as root:</mark>"
                           '<pre class="passage-code"><code># mkdir -p /path/to/old/system<br>    cd /path &lt;x&gt;'
                           "</code></pre>")
    assert ("<table><tr><th>package</th><th>size</th></tr><tr><td>grub-rescue-pc</td><td>6422</td></tr>"
            "<tr><td>a | b</td><td>1</td></tr></table>Then *reboot*.</div>") in body
