"""Benchmarks: they print figures and ratios measured side by side; they assert nothing."""
