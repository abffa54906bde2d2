"""Benchmarks: scripts that measure and print a table (``python -m bench.NAME``); ``bench/README.md``
lists what each measures. Speed, answer quality and fault injection; never run by the tests."""
