"""Answers from retrieved passages: quoted (extractive) or written by a chat model, the shipped offline
answer model, the loaded LM as a LangChain chat model, any OpenAI-compatible endpoint, the evidence
sentences in a passage and the grounding check (citations, unsupported numbers and names)."""
