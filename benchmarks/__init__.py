"""Benchmarks: each compares JourneyRank with a reference side by side in one run and prints ratios."""
