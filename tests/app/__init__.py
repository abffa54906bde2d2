"""Tests of the web page: its service, rendering and a real browser (``app``)."""
