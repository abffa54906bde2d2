"""Chunking sections into passages of at most ``max_tokens`` tokens of the model's tokenizer.

Boundaries are chosen in order of preference: section (heading or page) boundaries are
never crossed; inside a section, chunks are packed from whole paragraphs, then whole
sentences, and only a sentence longer than a chunk is cut at token boundaries. Each chunk
after the first in a section repeats up to ``overlap`` tokens of whole trailing units of
the previous one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from searchr3.ingestion.loaders import Section

_PARAGRAPH = re.compile(r"\n\s*\n")
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(\"'`])")


@dataclass(frozen=True)
class Chunk:
    """A passage with where it came from: heading, page and position in its file."""

    text: str
    heading: str | None
    page: int | None
    position: int
    anchor: str | None = None  # the section's id in its HTML file, for links that open there

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
        """Paragraphs, or sentences / token windows of paragraphs too long for a chunk."""
        paragraphs = [p.strip() for p in _PARAGRAPH.split(text) if p.strip()]
        units: list[tuple[str, int]] = []
        for para, n in zip(paragraphs, self._count(paragraphs)):
            if n <= self.max_tokens:
                units.append((para, n))
                continue
            sentences = [s.strip() for s in _SENTENCE.split(para) if s.strip()]
            for sent, m in zip(sentences, self._count(sentences)):
                if m <= self.max_tokens:
                    units.append((sent, m))
                else:
                    pieces = self._cut(sent)
                    units.extend(zip(pieces, self._count(pieces)))
        return units

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
                out.append(Chunk(text, section.heading, section.page, len(out), section.anchor))
        return out


def _join(units: list[tuple[str, int]]) -> str:
    # Sentences of one paragraph are joined by a space; keep paragraphs apart.
    return "\n\n".join(text for text, _ in units)
