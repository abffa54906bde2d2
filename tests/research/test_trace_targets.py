"""Traces built from a positive passage (the diagnostics' oracle, trace targets): real FAQ text."""

import re

import pytest

from searchr3.answers.evidence import stem
from searchr3.research.trace_targets import OPENING, TermWeights, distinctive_terms, opened_trace, passage_trace


@pytest.fixture(scope="module")
def faq(pyfaq):
    data = pyfaq
    return data, TermWeights([data.doc_text(d) for d in data.corpus])


def _positive(data, q):
    return data.corpus[max(data.qrels[q].items(), key=lambda kv: kv[1])[0]][1]


def test_terms_are_the_passages_not_the_querys(faq):
    data, weights = faq
    for q in list(data.queries)[:40]:
        query, passage = data.queries[q], _positive(data, q)
        terms = distinctive_terms(passage, query, weights, k=8)
        assert 0 < len(terms) <= 8
        low = passage.lower()
        assert all(t in low for t in terms)  # every term is in the passage
        asked = {stem(w) for w in query.lower().replace("-", " ").split()}
        assert not {stem(t) for t in terms} & asked, (query, terms)  # and none repeats the query
        assert len({stem(t) for t in terms}) == len(terms)


def test_floating_point_question_points_at_binary_representation(faq):
    data, weights = faq
    q = "q:design/why-are-floating-point-calculations-so-inaccurate"
    trace = passage_trace(data.queries[q], _positive(data, q), weights)
    assert trace.startswith("Looking for a passage that mentions ") and trace.endswith(".")
    assert "binary" in trace and "decimal" in trace
    words = set(re.findall(r"[a-z]+", trace.lower()))
    assert not {"float", "floating", "point", "calculations"} & words  # the query's own words are left out
    assert len(trace.split()) < 25  # tens of tokens, not a paragraph


def test_rare_words_outrank_common_ones(faq):
    _, weights = faq
    assert weights.idf("walrus") > weights.idf("python") > 0
    titled = passage_trace("how to exit", "Use sys.exit() to exit; sys.exit raises SystemExit.", weights,
                           heading="Exiting", k=3)
    assert titled.startswith("Looking for a passage titled 'Exiting' that mentions ")


def test_an_opened_trace_keeps_the_first_sentence_of_the_first_line():
    assert opened_trace(" list.sort, sorted() and key. Then more.\nOther") == f"{OPENING} list.sort, sorted() and key."
    assert opened_trace(" e.g. /usr/bin paths\nand more") == f"{OPENING} e.g. /usr/bin paths"
    assert opened_trace("\nnothing on the first line") == OPENING
