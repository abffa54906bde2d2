"""Indexing a folder of documents into the searchr3 index (``python -m ingest``)."""

from .pipeline import FileResult, Ingestor, Summary

__all__ = ["FileResult", "Ingestor", "Summary"]
