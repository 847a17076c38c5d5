"""Observation: structured logs, Prometheus metrics and the ``status`` report."""
