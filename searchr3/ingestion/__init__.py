"""Documents into an index: loaders (files -> sections), chunking (sections -> chunks) and the
incremental pipeline (chunks -> vectors -> the index). ``python -m ingest`` is its command line."""

from searchr3.ingestion.loaders import LoadError, is_supported, load
from searchr3.ingestion.pipeline import FileResult, Ingestor, Summary

__all__ = ["FileResult", "Ingestor", "LoadError", "Summary", "is_supported", "load"]
