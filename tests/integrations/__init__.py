"""Tests of LangChain and Chroma integrations (``searchr3.integrations``)."""
