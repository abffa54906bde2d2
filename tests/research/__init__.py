"""Tests of trace targets (``searchr3.research``)."""
