"""Tests of ingestion, check/repair, watch, Ray, re-embedding, loaders and chunking (``searchr3.ingestion``)."""
