"""Locating the Python documentation HTML of Debian's ``python3-doc`` package."""

from __future__ import annotations

import glob
from pathlib import Path

from searchr3.errors import SearchR3Error


def python_doc_root() -> Path:
    """The ``html`` folder of the installed Python documentation.

    Raises :class:`SearchR3Error` naming the package to install when it is missing.
    """
    candidates = ["/usr/share/doc/python3/html", "/usr/share/doc/python3-doc/html"]
    candidates += sorted(glob.glob("/usr/share/doc/python3.*/html"), reverse=True)
    for c in candidates:
        if (Path(c) / "faq").is_dir() and (Path(c) / "library").is_dir():
            return Path(c)
    raise SearchR3Error("the Python documentation is not installed (apt-get install python3-doc)")
