"""searchr3 inside other frameworks: a LangChain retriever and LangChain ``Embeddings`` over the embedder,
and a Chroma embedding function named ``searchr3``."""
