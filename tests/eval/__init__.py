"""Tests of evaluation, dev sets, sentence encoders, trace diagnostics (``searchr3.eval``)."""
