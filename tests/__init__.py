"""searchr3's tests; ``tests/conftest.py`` assigns the tiers (unit, tiny, model)."""
