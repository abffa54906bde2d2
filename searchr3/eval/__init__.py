"""Evaluation on BEIR-layout data: ``python -m searchr3.eval --data DIR --method METHOD``."""
