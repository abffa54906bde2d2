"""Links from a shown passage to the file it came from, signed so that only passages the app
showed can be opened: a link names a collection and a chunk id, never a path, and carries an
HMAC of both under a secret the serving process holds."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from urllib.parse import quote

SOURCE_ROUTE = "/sources"


class SourceLinks:
    """Signs and checks ``/sources/{collection}/{chunk id}?sig=…`` links (``secret``: random per
    process unless given, so links die with the server that made them)."""

    def __init__(self, secret: bytes | None = None):
        self._secret = secret or secrets.token_bytes(32)

    def signature(self, collection: str, chunk_id: str) -> str:
        message = f"{collection}\0{chunk_id}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()[:32]

    def verify(self, collection: str, chunk_id: str, signature: str) -> bool:
        """Whether ``signature`` was made here for this collection and chunk."""
        return hmac.compare_digest(self.signature(collection, chunk_id), signature or "")

    def url(self, collection: str, chunk_id: str, metadata: dict | None = None, text: str | None = None) -> str:
        """The link for a chunk; a PDF's opens at the chunk's page (``#page=N``), an HTML file's at
        the chunk's section (``#id``), a text file's (Markdown, reST, plain text; with the chunk's
        ``text``) scrolled to the passage's first words where the browser reads text fragments."""
        link = (f"{SOURCE_ROUTE}/{quote(collection, safe='')}/{quote(chunk_id, safe='')}"
                f"?sig={self.signature(collection, chunk_id)}")
        meta = metadata or {}
        source = str(meta.get("source", "")).lower()
        if meta.get("page") and source.endswith(".pdf"):
            link += f"#page={int(meta['page'])}"
        elif meta.get("anchor") and source.endswith((".html", ".htm")):
            link += "#" + quote(str(meta["anchor"]), safe="")
        elif text and source.endswith((".md", ".markdown", ".txt", ".rst")) and (words := _first_words(text)):
            link += "#:~:text=" + quote(words, safe="").replace("-", "%2D")
        return link


def _first_words(text: str, n: int = 6) -> str:
    """The first ``n`` words of a passage's first line of prose (not a fence, table row or rule),
    without Markdown's leading marks: what a text fragment can find in the file as written."""
    for line in text.splitlines():
        line = re.sub(r"^\s*(#+|[-*+]|\d+\.|>)\s+", "", line).strip()
        if line and not re.match(r"^(```|~~~|\||[=\-~^*#]{3,}$)", line):
            return " ".join(line.split()[:n])
    return ""
