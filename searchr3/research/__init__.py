"""Helpers of the training and trace studies, shared by ``training/`` and :mod:`searchr3.eval.traces`:
reasoning traces built from text (trace targets) and the spread noise control for sampled vectors."""
