"""Chunking sections into passages of at most ``max_tokens`` tokens of the model's tokenizer.

Boundaries are chosen in order of preference: section (heading or page) boundaries are
never crossed; inside a section, chunks are packed from whole paragraphs, then whole
sentences, and only a sentence longer than a chunk is cut at token boundaries. A fenced code
block (```` ``` ````) is one paragraph, blank lines and all; one longer than a chunk is cut
between lines, each piece fenced again, so every chunk's fences pair up. Each chunk after the
first in a section repeats up to ``overlap`` tokens of whole trailing units of the previous one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from searchr3.ingestion.loaders import FENCE, Section

_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(\"'`])")


@dataclass(frozen=True)
class Chunk:
    """A passage with where it came from: heading, page and position in its file."""

    text: str
    heading: str | None
    page: int | None
    position: int
    anchor: str | None = None  # the section's id in its HTML file, for links that open there
    path: tuple[str, ...] = ()  # the headings above ``heading``, outermost first

    @property
    def heading_path(self) -> str | None:
        """Where the passage sits: its headings from the outermost, "Manual › Chapter › Section"."""
        return " › ".join((*self.path, self.heading)) if self.heading else None

    @property
    def embedding_text(self) -> str:
        """What is embedded: the heading (if any) on a line above the text."""
        return f"{self.heading}\n{self.text}" if self.heading else self.text


class Chunker:
    """Splits sections into token-bounded chunks with ``tokenizer`` (a HF tokenizer)."""

    def __init__(self, tokenizer, max_tokens: int = 256, overlap: int = 32):
        if max_tokens < 16 or not 0 <= overlap < max_tokens // 2:
            raise ValueError("need max_tokens >= 16 and 0 <= overlap < max_tokens / 2")
        self.tokenizer = tokenizer
        self.max_tokens = max_tokens
        self.overlap = overlap

    def _count(self, texts: list[str]) -> list[int]:
        if not texts:
            return []
        return [len(ids) for ids in self.tokenizer(texts, add_special_tokens=False)["input_ids"]]

    def _cut(self, text: str) -> list[str]:
        """Cut one over-long sentence at token boundaries (by character offsets)."""
        enc = self.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        offsets = enc["offset_mapping"]
        pieces = []
        for start in range(0, len(offsets), self.max_tokens):
            window = offsets[start : start + self.max_tokens]
            pieces.append(text[window[0][0] : window[-1][1]].strip())
        return [p for p in pieces if p]

    def _units(self, text: str) -> list[tuple[str, int]]:
        """Paragraphs (a fenced code block is one), or sentences / token windows of paragraphs too
        long for a chunk (code: groups of whole lines, each fenced)."""
        paragraphs = paragraphs_of(text)
        units: list[tuple[str, int]] = []
        for para, n in zip(paragraphs, self._count(paragraphs)):
            if n <= self.max_tokens:
                units.append((para, n))
            elif FENCE.match(para):
                pieces = self._code_pieces(para)
                units.extend(zip(pieces, self._count(pieces)))
            else:
                sentences = [s.strip() for s in _SENTENCE.split(para) if s.strip()]
                for sent, m in zip(sentences, self._count(sentences)):
                    if m <= self.max_tokens:
                        units.append((sent, m))
                    else:
                        pieces = self._cut(sent)
                        units.extend(zip(pieces, self._count(pieces)))
        return units

    def _code_pieces(self, block: str) -> list[str]:
        """A fenced code block too long for one chunk as fenced pieces of whole lines (a line
        longer than a chunk is cut at token boundaries)."""
        lines = block.split("\n")
        fence = FENCE.match(lines[0]).group(1)
        body = lines[1:-1] if len(lines) > 1 and lines[-1].strip() == fence else lines[1:]
        room = self.max_tokens - 2 * self._count([fence])[0] - 2
        pieces: list[list[str]] = [[]]
        size = 0
        for line, n in zip(body, self._count([line or " " for line in body])):
            parts = [(line, n)] if n <= room else list(zip(cut := self._cut(line), self._count(cut)))
            for part, m in parts:
                if pieces[-1] and size + m + 1 > room:
                    pieces.append([])
                    size = 0
                pieces[-1].append(part)
                size += m + 1
        return [f"{lines[0]}\n" + "\n".join(piece) + f"\n{fence}" for piece in pieces if any(s.strip() for s in piece)]

    def _pack(self, units: list[tuple[str, int]]) -> list[str]:
        chunks: list[str] = []
        current: list[tuple[str, int]] = []
        size = 0
        for unit in units:
            if current and size + unit[1] > self.max_tokens:
                chunks.append(_join(current))
                carried: list[tuple[str, int]] = []
                for prev in reversed(current):  # whole trailing units, up to `overlap` tokens
                    if sum(n for _, n in carried) + prev[1] > self.overlap:
                        break
                    carried.insert(0, prev)
                if sum(n for _, n in carried) + unit[1] > self.max_tokens:
                    carried = []
                current, size = carried, sum(n for _, n in carried)
            current.append(unit)
            size += unit[1]
        if current:
            chunks.append(_join(current))
        return chunks

    def chunk(self, sections: list[Section]) -> list[Chunk]:
        """Chunks of all ``sections``, positions numbered from 0 across the file."""
        out: list[Chunk] = []
        for section in sections:
            for text in self._pack(self._units(section.text)):
                out.append(Chunk(text, section.heading, section.page, len(out), section.anchor, section.path))
        return out


def paragraphs_of(text: str) -> list[str]:
    """The paragraphs of ``text`` (split at blank lines), a fenced code block kept whole with its
    fences, its blank lines and its indentation; an unclosed fence runs to the end."""
    out: list[list[str]] = [[]]
    fence: str | None = None
    for line in text.split("\n"):
        opened = FENCE.match(line)
        if fence is None and opened:
            if out[-1]:
                out.append([])
            fence = opened.group(1)
            out[-1].append(line)
        elif fence is not None:
            out[-1].append(line)
            if line.strip() == fence:
                fence = None
                out.append([])
        elif line.strip():
            out[-1].append(line)
        elif out[-1]:
            out.append([])
    texts = ["\n".join(lines) for lines in out]
    return [p.strip("\n") if FENCE.match(p) else p.strip() for p in texts if p.strip()]


def _join(units: list[tuple[str, int]]) -> str:
    # Sentences of one paragraph are joined by a space; keep paragraphs apart.
    return "\n\n".join(text for text, _ in units)
