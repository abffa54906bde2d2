"""Typed exceptions raised by the searchr3 library.

Every error the library raises on purpose derives from :class:`SearchR3Error`, so a CLI can
catch that one type and print a single clear line.
"""

from __future__ import annotations


class SearchR3Error(Exception):
    """Base class for all searchr3 errors."""


class InvalidInputError(SearchR3Error, ValueError):
    """A text or argument given to the library is unusable (empty, wrong type, ...)."""


class InputTooLongError(InvalidInputError):
    """A text is longer than the model reads, where cutting it silently is not acceptable."""


class ModelNotFoundError(SearchR3Error, FileNotFoundError):
    """The configured base model (or its default package) cannot be found."""


class ModelLoadError(SearchR3Error):
    """The base model exists but could not be loaded."""


class AdapterMismatchError(SearchR3Error):
    """A LoRA adapter was trained for a different base model than the one loaded."""


class FingerprintMismatchError(SearchR3Error):
    """An index was built with a different model than the one now embedding into it."""


class IndexNotFoundError(SearchR3Error):
    """The requested collection does not exist at the given index location."""


class IndexBusyError(SearchR3Error):
    """Another process is writing to the embedded index; only one writer at a time."""


class SourceNotFoundError(SearchR3Error, FileNotFoundError):
    """A passage's source cannot be opened: no such passage, or its file has moved or gone."""
