"""Finding passages for a question: :class:`~searchr3.retrieval.searcher.Searcher` (dense, optionally after
reasoning, or hybrid), its :class:`~searchr3.retrieval.options.SearchOptions`, the dense/BM25 score fusion,
follow-up questions rewritten into standalone searches, and top-k selection."""
