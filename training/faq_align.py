"""Match the entries of a translated FAQ to the English ones when no anchor is shared between them.

Translations keep the order of the entries but add, drop and reword some, and generated anchors
(DocBook's ``idm5705``) differ from language to language. What they keep verbatim is the text no one
translates: option names, file paths, version numbers, product names in capitals (``-vo xv``,
``/usr/local/lib/codecs/``, ``G200/G400``, ``ALSA``). Two entries are alike by the Jaccard overlap of
those *literals*, each weighted by its rarity (log of entries over the entries that hold it), and not at
all unless they share one that at most one entry in ten holds: ``MPlayer`` and ``DVD`` alone are no
evidence. The match is the order-keeping alignment with the largest total overlap among pairs
alike by at least ``MIN_OVERLAP`` (dynamic programming over both lists). An entry whose literals
say too little stays unmatched: pairing the runs left between two matches by position as well was
tried and gave wrong pairs where a translation both adds and drops an entry there.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence

MIN_OVERLAP = 0.2
_TOKEN = re.compile(r"[\w./+:-]+")
# a literal holds a digit or . / _ +, starts with a dash, or has a capital after its first letter (MPlayer, DVD)
_LITERAL = re.compile(r"\d|[./_+]|^-|^.+[A-Z]")


def literals(text: str) -> frozenset[str]:
    """The tokens of ``text`` that translations leave as they are."""
    tokens = (t.strip(".:-") if not t.startswith("-") else t.rstrip(".:") for t in _TOKEN.findall(text))
    return frozenset(t for t in tokens if len(t) >= 2 and _LITERAL.search(t))


def overlap(a: frozenset[str], b: frozenset[str], weight: Mapping[str, float] | None = None) -> float:
    """Jaccard overlap of two sets of literals, each counted by its ``weight`` (default 1); 0 when either is empty."""
    if not a or not b:
        return 0.0
    if weight is None:
        return len(a & b) / len(a | b)
    return sum(weight[t] for t in a & b) / sum(weight[t] for t in a | b)


def align(english: Sequence[str], translated: Sequence[str]) -> list[tuple[int, int]]:
    """``(english index, translated index)`` of the entries that match, in order (see the module)."""
    left, right = [literals(t) for t in english], [literals(t) for t in translated]
    n, m = len(left), len(right)
    seen = Counter(t for s in left + right for t in s)
    weight = {t: math.log((n + m + 1) / k) for t, k in seen.items()}  # the name every entry holds counts little
    rare = max(2, (n + m) // 10)  # a match needs a shared literal at most one entry in ten holds, both sides counted
    alike = [[overlap(a, b, weight) if any(seen[t] <= rare for t in a & b) else 0.0 for b in right] for a in left]
    best = [[0.0] * (m + 1) for _ in range(n + 1)]  # best[i][j]: the largest total over english[i:], translated[j:]
    for i in range(n - 1, -1, -1):
        for j in range(m - 1, -1, -1):
            take = alike[i][j] + best[i + 1][j + 1] if alike[i][j] >= MIN_OVERLAP else 0.0
            best[i][j] = max(take, best[i + 1][j], best[i][j + 1])
    matches, i, j = [], 0, 0
    while i < n and j < m:
        if alike[i][j] >= MIN_OVERLAP and best[i][j] == alike[i][j] + best[i + 1][j + 1]:
            matches.append((i, j))
            i, j = i + 1, j + 1
        elif best[i][j] == best[i + 1][j]:
            i += 1
        else:
            j += 1
    return matches

