"""Tests of the shared embedded index and the index's value types (``searchr3.index``)."""
