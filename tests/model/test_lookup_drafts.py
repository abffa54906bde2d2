"""Prompt lookup drafts (``searchr3.model.fast_decode.looked_up_drafts``): what follows the latest
earlier occurrence of the text's last few tokens."""

from searchr3.model.fast_decode import looked_up_drafts


def test_drafts_follow_the_latest_earlier_occurrence_of_the_last_ngram():
    ids = [1, 2, 3, 4, 5, 9, 1, 2, 3, 7, 8, 6, 1, 2, 3]
    assert looked_up_drafts(ids, 2) == [7, 8]  # the latest earlier 1 2 3, not the first
    assert looked_up_drafts(ids, 10) == [7, 8, 6, 1, 2, 3]  # up to the end of the text
    assert looked_up_drafts(ids, 0) == []
    assert looked_up_drafts([5, 6, 7, 8], 4) == []  # the last three never came before
    assert looked_up_drafts([1, 2, 3], 4) == []  # too short to have an earlier occurrence
    assert looked_up_drafts([4, 4, 4, 4], 3) == [4]  # overlapping occurrences
    assert looked_up_drafts([*ids, 9], 2, ngram=1) == [1, 2]  # the one earlier 9
