"""Tests of the model's loading, precision, the int8 decoder, the query adapter (``searchr3.model``)."""
