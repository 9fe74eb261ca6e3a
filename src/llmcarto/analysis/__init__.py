"""Analyses: pure functions over the store's tables (SQL first, Python where SQL is awkward)."""
