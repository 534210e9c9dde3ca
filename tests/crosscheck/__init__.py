"""Cross-checks of coinbt against independent backtesting libraries (see docs/crosscheck.md)."""
