"""Progress: bars on a terminal, a line per tenth in a log."""

import io

from rich.console import Console

from searchr3.progress import counting, phase_progress


def test_a_log_gets_a_line_at_every_tenth_of_each_phase():
    out = io.StringIO()
    with phase_progress(Console(file=out, width=200)) as tick:
        for done in range(0, 201):
            tick("embedding passages", done, 200)
        advance = counting(tick, "queries", 3)
        for _ in range(3):
            advance()
    lines = out.getvalue().splitlines()
    passages = [line for line in lines if line.startswith("embedding passages: ")]
    assert [line.split(",")[0] for line in passages] == [
        f"embedding passages: {n}/200 ({n // 2}%)" for n in range(0, 201, 20)
    ]
    assert [line.split(",")[0] for line in lines if line.startswith("queries: ")] == [
        "queries: 1/3 (33%)", "queries: 2/3 (66%)", "queries: 3/3 (100%)"
    ]
    assert all(line.endswith(" s") for line in lines)


def test_a_terminal_gets_bars_not_lines():
    out = io.StringIO()
    with phase_progress(Console(file=out, force_terminal=True, width=100)) as tick:
        tick("embedding passages", 5, 10)
        tick("embedding passages", 10, 10)
    text = out.getvalue()
    assert "embedding passages" in text and "10/10" in text
    assert "embedding passages: " not in text  # the bar, not the log line
