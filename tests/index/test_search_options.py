"""SearchOptions and IndexLocation: the value types the retriever, Searcher and app share."""

from pathlib import Path

import pytest

from searchr3 import InvalidInputError, SearchOptions
from searchr3.index.vectors import DEFAULT_COLLECTION, IndexLocation


def test_overrides_merge_onto_the_options():
    base = SearchOptions(k=3, hybrid=True, filter={"file_name": "a.txt"})
    merged = base.merged(k=1, reasoning=True)
    assert (merged.k, merged.reasoning, merged.hybrid, merged.filter) == (1, True, True, {"file_name": "a.txt"})
    assert base.k == 3 and not base.reasoning  # the original is unchanged
    assert base.merged() is base
    assert base.merged(filter=None).filter is None  # an override may clear the filter


@pytest.mark.parametrize("bad", [{"k": 0}, {"k": 2.5}, {"k": True}, {"candidates": 0}, {"filter": "a.txt"}])
def test_bad_values_are_typed_errors(bad):
    with pytest.raises(InvalidInputError):
        SearchOptions(**bad)
    with pytest.raises(InvalidInputError):
        SearchOptions().merged(**bad)


def test_unknown_option_is_a_type_error():
    with pytest.raises(TypeError, match="unknown search option\\(s\\): colour, size"):
        SearchOptions().merged(colour="red", size=2)


def test_locations():
    server = IndexLocation.resolve("/ignored", host="db.local", port=9000, collection="c")
    assert (server.host, server.port, server.collection, server.path) == ("db.local", 9000, "c", None)
    embedded = IndexLocation.resolve("~/idx")
    assert embedded.path == Path("~/idx").expanduser() and embedded.host is None
    assert embedded.collection == DEFAULT_COLLECTION
    assert embedded.with_collection("other") == IndexLocation.embedded("~/idx", "other")
    assert embedded.with_collection("") == embedded and embedded.with_collection(None) == embedded
    assert server.label == "db.local:9000 [c]"
