"""The searchr3 web app (``python -m app``)."""
