"""Benchmark suite of coinbt against vectorbt and backtesting.py (``make bench``)."""
