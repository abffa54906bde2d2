"""Tests of both training stages, their data and the accelerator kit (``training``)."""
