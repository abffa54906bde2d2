"""``python -m ingest``: index a folder of documents (the pipeline is :mod:`searchr3.ingestion`)."""
