"""Follow-up questions become standalone searches; evidence sentences; answer grounding checks."""

import json
from pathlib import Path

import pytest

from searchr3.answers.evidence import best_sentences, sentences
from searchr3.answers.grounding import SupportFilter, attribute, cited, strip_bad_citations, unsupported_terms
from searchr3.retrieval.conversation import is_follow_up, split_search, standalone_query
from searchr3.serving.source_links import SourceLinks

FIRST = "How do I create a branch in git?"


@pytest.mark.parametrize("question", ["And how do I delete it?", "what about tags?", "Why?",
                                      "How do I undo that?", "Can I rename them later?"])
def test_follow_ups_are_detected(question):
    assert is_follow_up(question)


@pytest.mark.parametrize("question", ["How do I delete a remote branch?", "What is Python?",
                                      "How are floating point numbers stored?"])
def test_standalone_questions_are_left_alone(question):
    assert not is_follow_up(question)
    assert standalone_query(question, [FIRST]) == question


def test_a_follow_up_borrows_the_earlier_topic_and_nothing_else():
    search = standalone_query("And how do I delete it?", [FIRST])
    assert search == "And how do I delete it? (create branch git)"
    assert split_search(search) == ("And how do I delete it?", ["create", "branch", "git"])
    assert standalone_query("And how do I delete it?", []) == "And how do I delete it?"


def test_a_chain_of_follow_ups_keeps_its_topic():
    history = [FIRST, "and how do I delete it?"]
    assert standalone_query("why?", history) == "why? (delete create branch git)"
    # the nearest question with a topic sets it: a new topic replaces the old one
    assert standalone_query("and how do I delete it?", [FIRST, "How do I make a commit?"]).endswith("(commit)")


def test_sentence_spans_point_into_the_text():
    text = "Deleting a branch: git branch -d NAME removes it. Use -D to force it!\n\nTea (green) is nice."
    found = sentences(text)
    assert [s.text for s in found] == ["Deleting a branch: git branch -d NAME removes it.", "Use -D to force it!",
                                       "Tea (green) is nice."]
    assert all(text[s.start:s.end] == s.text for s in found)


def test_best_sentences_match_the_question_and_favour_its_own_terms():
    passages = ["Git keeps history. Deleting a branch: git branch -d NAME removes a merged branch.",
                "Creating a branch: git branch NAME makes a new branch.", "Green tea is brewed at 80 degrees."]
    best = best_sentences("And how do I delete it? (create branch git)", passages)
    assert best[0][0].sentence.text.startswith("Deleting a branch")
    assert best[0][0].score > best[1][0].score  # "delete" (the question's) outweighs "create" (context)
    assert best[2] == []


def test_unsupported_numbers_and_names_are_found():
    passage = "The Fastnet lighthouse was first lit in 1854. Its keepers rowed out with supplies."
    answer = "It was first lit on Monday, 1 January 1854, by the crew of HMS Beagle [1]."
    assert unsupported_terms(answer, ["When was the Fastnet lighthouse first lit?", passage]) == [
        "1", "Beagle", "HMS", "January", "Monday"]
    assert unsupported_terms("The Fastnet lighthouse was first lit in 1854 [1].", [passage]) == []
    assert unsupported_terms("Fastnet's light dates from 1,854.", [passage]) == []  # digits compare


def test_support_filter_streams_only_backed_sentences_and_says_what_it_removed():
    check = SupportFilter("When was it lit?", ["The Fastnet lighthouse was first lit in 1854."])
    pieces = ["The light", "house was lit in 1854 [1]. It was", " lit on Monday by Bob [3]. Done [2]."]
    assert "".join(check.stream(pieces)) == "The lighthouse was lit in 1854 [1]. Done."
    assert check.report.bad_citations == [3, 2]
    assert check.report.notes() == ["Removed citation [2], [3]: no such passage was shown.",
                                    "Left out 1 sentence(s) stating what the passages do not say (Bob, Monday)."]


def test_a_lead_in_is_left_out_with_what_it_introduces():
    """"For example:" before an example the check removes goes too; before one it keeps, it stays."""
    passage = "If indent is a non-negative integer, JSON array elements are pretty-printed with that indent level."
    invented = "Use indent [1]. For example:\n\n```\njson.dumps(data, indent=7)\n```\n\nThat is all."
    check = SupportFilter("How do I pretty-print JSON?", [passage])
    assert "".join(check.stream([invented[:20], invented[20:]])) == "Use indent [1]. That is all."
    assert len(check.report.dropped) == 1  # the example; its lead-in is not a claim
    backed = "Use indent [1]. For example:\n\n```\njson.dumps(data, indent=4)\n```"
    kept = SupportFilter("How do I pretty-print JSON?", [passage + " json.dumps(data, indent=4)"])
    assert "".join(kept.stream([backed])) == backed
    assert "".join(SupportFilter("q", [passage]).stream(["Try this:"])) == "Try this:"  # nothing follows
    named = "Call `json.dumps` with indent:\n\n```\njson.dumps(data, indent=7)\n```"
    assert "".join(SupportFilter("q", [passage]).stream([named])) == "Call `json.dumps` with indent:\n\n"  # (code)


def test_citations_to_missing_passages_are_stripped():
    assert strip_bad_citations("A [1] and B [4] and C [0].", 2) == ("A [1] and B and C.", [4, 0])
    assert cited("A [2] [1] [9]", 2) == [1, 2]


def test_source_links_are_signed_per_chunk_and_server():
    links = SourceLinks(b"k" * 32)
    url = links.url("docs", "abc", {"source": "/x/manual.pdf", "page": 3})
    assert url.startswith("/sources/docs/abc?sig=") and url.endswith("#page=3")
    sig = url.split("sig=")[1].split("#")[0]
    assert links.verify("docs", "abc", sig)
    assert not links.verify("docs", "abd", sig) and not links.verify("other", "abc", sig)
    assert not SourceLinks().verify("docs", "abc", sig)  # another server's secret
    assert "#page" not in links.url("docs", "abc", {"source": "/x/notes.txt", "page": 3})
    # a text file's link scrolls to the passage's first words (a text fragment; '-' is its syntax: escaped)
    note = links.url("docs", "abc", {"source": "/x/notes.md"}, "## Set-up\n\nRun the installer.")
    assert note.endswith("#:~:text=Set%2Dup")
    item = links.url("docs", "abc", {"source": "/x/notes.md"}, "```\n\n- Run the installer, then reboot now please.")
    assert item.endswith("#:~:text=Run%20the%20installer%2C%20then%20reboot%20now")
    assert "text=" not in links.url("docs", "abc", {"source": "/x/page.html"}, "Run it.")


def test_words_opening_a_line_or_quote_are_not_names():
    assert unsupported_terms("> Use git branch -d [1]\n\n- Then push.", ["git branch -d removes it"]) == []
    assert unsupported_terms("1. Ask Guido.", ["nothing"]) == ["Guido"]


def test_quotes_mark_gaps_between_sentences_only():
    from searchr3.answers.answerers import ExtractiveAnswerer
    from searchr3.retrieval.searcher import RankedHit

    text = "Branches are cheap in git. Creating a branch: git branch NAME. Tea is hot. A git branch moves."
    hit = RankedHit("c", text, {}, 1, 0.9)
    (answer,) = ExtractiveAnswerer(per_passage=3).stream("How do I create a git branch?", [hit])
    assert answer == ("> Branches are cheap in git. Creating a branch: git branch NAME. … A git branch moves. [1]")


def test_a_labelled_list_of_questions_no_standalone_one_is_rewritten():
    """120 questions after an unrelated earlier one (tests/data/followups.jsonl): 60 that stand on their
    own though they hold it/that/them/one/also…, 60 real follow-ups ("and how do I undo that?", "what about
    Windows?", "in descending order?")."""
    rows = [json.loads(line) for line in (Path(__file__).parents[1] / "data" / "followups.jsonl").open()]
    standalone = [r for r in rows if not r["follow_up"]]
    follow_ups = [r for r in rows if r["follow_up"]]
    assert len(standalone) >= 30 and len(follow_ups) >= 30
    hijacked = [r["question"] for r in standalone if standalone_query(r["question"], r["history"]) != r["question"]]
    assert hijacked == []
    rewritten = [r for r in follow_ups if standalone_query(r["question"], r["history"]) != r["question"]]
    assert len(rewritten) >= 0.9 * len(follow_ups)


def test_an_uncited_answer_is_given_the_passages_that_hold_what_it_states():
    passages = ["Creating a branch: git branch NAME makes a new branch.",
                "To delete a branch on a server: git push origin --delete NAME. Locally: git branch -d NAME."]
    assert attribute("Use `git push origin --delete NAME` to remove it from the server.", passages) == [2]
    assert attribute("Run git branch NAME; it makes a new branch at once.", passages) == [1]  # shared words
    assert attribute("I cannot tell from these.", passages) == []


def test_the_reader_is_told_what_a_follow_up_follows():
    from searchr3.serving.service import reader_question

    earlier = ["How do I get the file extension of a path?"]
    search = standalone_query("and how do I change it?", earlier)
    assert reader_question("and how do I change it?", search, earlier) == (
        "and how do I change it? (this follows the question: How do I get the file extension of a path?)")
    alone = "How do I copy a directory tree?"
    assert reader_question(alone, standalone_query(alone, earlier), earlier) == alone


def test_attributed_citations_never_land_inside_a_code_block():
    from langchain_core.language_models.fake_chat_models import FakeListChatModel

    from searchr3.answers.answerers import GenerativeAnswerer
    from searchr3.retrieval.searcher import RankedHit

    hits = [RankedHit("c1", "Pretty printing: json.dumps(obj, indent=4) indents nested objects.", {}, 1, 0.8, 0.8)]
    model = FakeListChatModel(responses=["Use this:\n\n```python\njson.dumps(obj, indent=4)"])
    answer = "".join(GenerativeAnswerer(model, quote=0).stream("How do I pretty-print JSON?", hits))
    assert answer.endswith("json.dumps(obj, indent=4)\n```\n\n[1]")
    again = FakeListChatModel(responses=["Use this:\n\n```python\njson.dumps(obj, indent=4)"])
    quoted = "".join(GenerativeAnswerer(again).stream("How do I pretty-print JSON?", hits))
    assert quoted.endswith("```\n\n[1]\n\n> Pretty printing: json.dumps(obj, indent=4) indents nested objects. [1]")


def test_a_how_to_question_gets_the_sentence_with_the_command_from_any_passage():
    """Quoting reads every passage shown and prefers, for "how do I …", the sentence that holds the command."""
    from searchr3.answers.answerers import ExtractiveAnswerer
    from searchr3.answers.evidence import asks_for_command, holds_command
    from searchr3.retrieval.searcher import RankedHit

    assert asks_for_command("How do I list all databases from the psql prompt?")
    assert asks_for_command("Which option makes pg_dump run in parallel?")
    assert not asks_for_command("Why does psql show all databases slowly?")
    assert holds_command("\\l[+] or \\list[+] [ pattern ] List the databases.")
    assert holds_command("Run it with --jobs 4.")
    assert not holds_command("A well-known list of databases.")
    first_text = "To dump all databases, use the dump tool. Databases are listed in the catalog."
    second_text = "Tea is hot.\n\n\\l[+] or \\list[+] [ pattern ] List the databases in the server."
    hits = [RankedHit("a", first_text, {}, 1, 0.9), RankedHit("b", second_text, {}, 2, 0.8)]
    (first, *rest) = ExtractiveAnswerer().stream("How do I list all databases from the psql prompt?", hits)
    assert first.startswith("> \\l[+] or \\list[+] [ pattern ] List the databases in the server. [2]")
    assert "Tea" not in first + "".join(rest)


def test_invented_paths_and_options_are_unsupported():
    """A small reader states a likely path or option the passages never give: the check catches it whole."""
    passages = ["The AllowOverride directive in httpd.conf controls .htaccess files.",
                "htpasswd -c /usr/local/apache/passwd/passwords rbowen", "-j njobs --jobs= njobs Run in parallel."]
    assert unsupported_terms("Edit the file, typically located at /etc/apache2/apache2.conf.", passages) == [
        "/etc/apache2/apache2.conf"]
    assert unsupported_terms("Run htpasswd -c /usr/local/apache/passwd/passwords bob.", passages) == []
    assert unsupported_terms("Use --jobs, or --format custom.", passages) == ["--format"]
    assert unsupported_terms("Put it in ~/.bashrc.", ["Add the line to ~/.bashrc"]) == []


def test_the_passages_answered_from_are_reranked_by_their_evidence():
    """Of the search's best 16, the k kept for answering favour the passage whose sentence holds what
    a how-to question asks for, over one that only scored a little higher in search."""
    from searchr3.answers.evidence import RERANK_DEPTH, rerank
    from searchr3.retrieval.searcher import RankedHit

    texts = ["The psql program is the interactive terminal of PostgreSQL; it has many options.",
             "Backups are written by pg_dump, one database at a time.",
             r"To list all databases, type \l at the psql prompt; \l+ shows their sizes too.",
             "Roles own databases and schemas."]
    hits = [RankedHit(str(i), t, {}, i + 1, score) for i, (t, score) in enumerate(zip(texts, (0.62, 0.60, 0.58, 0.3)))]
    kept = rerank("How do I list all databases from the psql prompt?", hits, 2)
    assert "2" in {h.id for h in kept} and "3" not in {h.id for h in kept}  # the passage with the command got in
    assert [h.score for h in kept] == sorted((h.score for h in kept), reverse=True)  # shown by search score
    assert [h.rank for h in kept] == [1, 2] and kept[-1].score == 0.58  # scores as the search gave them
    assert RERANK_DEPTH == 16 and [h.id for h in rerank("", hits, 4)] == ["0", "1", "2", "3"]  # no evidence: as found


def test_a_written_answer_is_followed_by_the_passages_best_sentence_unless_it_says_it():
    from langchain_core.language_models.fake_chat_models import FakeListChatModel

    from searchr3.answers.answerers import GenerativeAnswerer
    from searchr3.retrieval.searcher import RankedHit

    hits = [RankedHit("a", "Branches are cheap in git: a branch is a pointer to a commit.", {}, 1, 0.9),
            RankedHit("b", "To delete a branch on a server, run git push origin --delete NAME. A local one goes "
                           "with git branch -d NAME.", {}, 2, 0.8)]
    question = "How do I delete a branch on the server?"
    written = "".join(GenerativeAnswerer(FakeListChatModel(responses=["Push the deletion to the server. [2]"]))
                      .stream(question, hits))
    assert written == ("Push the deletion to the server. [2]\n\n"
                       "> To delete a branch on a server, run git push origin --delete NAME. [2]")
    said = "To delete a branch on a server, run git push origin --delete NAME. [2]"
    again = "".join(GenerativeAnswerer(FakeListChatModel(responses=[said])).stream(question, hits))
    assert again == said  # the answer holds the sentence already: no quote
    bare = "".join(GenerativeAnswerer(FakeListChatModel(responses=[said]), quote=0).stream(question, hits))
    assert bare == said


def test_quotes_first_come_before_the_written_answer_and_stand_alone_when_it_says_nothing():
    """A slow reader (the 1.5 B answer model on a CPU) shows the manual's sentences at once, then its
    own answer under them; when the check leaves nothing of what it wrote, the quotes stand alone."""
    from langchain_core.language_models.fake_chat_models import FakeListChatModel

    from searchr3.answers.answerers import GenerativeAnswerer
    from searchr3.retrieval.searcher import RankedHit

    hits = [RankedHit("a", "Branches are cheap in git: a branch is a pointer to a commit.", {}, 1, 0.9),
            RankedHit("b", "To delete a branch on a server, run git push origin --delete NAME. A local one goes "
                           "with git branch -d NAME.", {}, 2, 0.8)]
    question = "How do I delete a branch on the server?"
    quote = "> To delete a branch on a server, run git push origin --delete NAME. [2]"
    said = "Run git push origin --delete NAME. [2]"
    pieces = list(GenerativeAnswerer(FakeListChatModel(responses=[said]), quotes_first=True).stream(question, hits))
    assert pieces[0] == quote  # before a word is written
    assert "".join(pieces) == quote + "\n\n" + said  # (kept though the answer says much the same)
    invented = "It was deleted in 1999 by Linus Torvalds."
    alone = "".join(GenerativeAnswerer(FakeListChatModel(responses=[invented]), quotes_first=True).stream(question,
                                                                                                          hits))
    assert alone.startswith(quote + "\n\n_Left out 1 sentence") and "What the passages say" not in alone


def test_an_option_entry_is_quoted_with_the_option_it_describes():
    """A manual's option entry is a term paragraph and its description: a how-to question quotes both,
    so the quote gives the option, not only what it does."""
    from searchr3.answers.answerers import ExtractiveAnswerer
    from searchr3.retrieval.searcher import RankedHit

    text = ("-z --analyze\n\nAlso calculate statistics for use by the optimizer.\n\n"
            "-Z --analyze-only\n\nOnly calculate statistics for use by the optimizer (no vacuum).\n\n"
            "```\n$ vacuumdb mydb\n```\n\nVacuums one database.")
    found = [s.text for s in sentences(text)]
    assert found == ["-z --analyze\n\nAlso calculate statistics for use by the optimizer.",
                     "-Z --analyze-only\n\nOnly calculate statistics for use by the optimizer (no vacuum).",
                     "```\n$ vacuumdb mydb\n```", "Vacuums one database."]  # a code block is no term
    (quote,) = ExtractiveAnswerer(sentences=1).stream("How do I only calculate statistics, without vacuuming?",
                                                      [RankedHit("a", text, {}, 1, 0.9)])
    assert quote == "> -Z --analyze-only Only calculate statistics for use by the optimizer (no vacuum). [1]"


def test_quotes_the_written_answer_already_holds_are_left_out_one_by_one():
    from langchain_core.language_models.fake_chat_models import FakeListChatModel

    from searchr3.answers.answerers import GenerativeAnswerer
    from searchr3.retrieval.searcher import RankedHit

    hits = [RankedHit("a", "Run pg_dump -Fd to write a directory-format dump of the database.", {}, 1, 0.9),
            RankedHit("b", "The directory format is the only format that supports a parallel dump.", {}, 2, 0.8)]
    said = "The directory format is the only format that supports a parallel dump. [2]"
    answer = "".join(GenerativeAnswerer(FakeListChatModel(responses=[said])).stream(
        "Which dump format do I need for a parallel dump of a database?", hits))
    assert answer == said + "\n\n> Run pg_dump -Fd to write a directory-format dump of the database. [1]"


def test_a_quoted_code_block_keeps_its_lines():
    """A code block the quote picks stays a code block, line by line, inside the quote."""
    from searchr3.answers.answerers import ExtractiveAnswerer
    from searchr3.retrieval.searcher import RankedHit

    text = ("To allow only some directives in .htaccess files, list them:\n\n"
            "```\n# Allow only specific directives\nAllowOverride None\nAllowOverrideList Redirect RewriteRule\n```")
    (quote,) = ExtractiveAnswerer(sentences=2, relative=0.1).stream(
        "How do I allow only specific directives in .htaccess files?", [RankedHit("a", text, {}, 1, 0.9)])
    assert quote == ("> To allow only some directives in .htaccess files, list them:\n>\n> ```\n"
                     "> # Allow only specific directives\n> AllowOverride None\n"
                     "> AllowOverrideList Redirect RewriteRule\n> ```\n> [1]")


def test_a_quoted_code_block_comes_with_the_sentence_that_introduces_it():
    from searchr3.answers.answerers import ExtractiveAnswerer
    from searchr3.retrieval.searcher import RankedHit

    text = ("To enable SSI processing, add the following directive to your apache2.conf file:\n\n"
            "```\nOptions +Includes\n```\n\nThis tells httpd to parse files for SSI directives.")
    (quote,) = ExtractiveAnswerer(sentences=1).stream("How do I include another file in a page with SSI?",
                                                      [RankedHit("a", text, {}, 1, 0.9)])
    assert quote == ("> To enable SSI processing, add the following directive to your apache2.conf file:\n>\n"
                     "> ```\n> Options +Includes\n> ```\n> [1]")
