"""How a streamed chat answer finds a greedy loop (no model needed)."""

from searchr3.answers.local_chat import repeat_start


def test_a_repeated_run_of_ids_is_found_where_the_repeat_begins():
    sentence = [5, 6, 7, 8]
    assert repeat_start([1, 2] + sentence + sentence, 4) == 6
    assert repeat_start([1, 2] + sentence + sentence[:3], 4) is None  # not yet a whole run
    assert repeat_start([9, 9, 9, 9, 9], 2) == 3  # overlapping runs count: a stutter loops too
    assert repeat_start([1, 2, 3, 4, 1, 2, 3, 5], 4) is None  # a shorter echo is allowed
    assert repeat_start(sentence + sentence, 0) is None  # 0: never stop
    assert repeat_start([1, 2, 3], 4) is None
