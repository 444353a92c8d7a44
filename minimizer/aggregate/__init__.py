"""Aggregate outputs: counts per group instead of rows, thresholds, differential privacy and
the purpose's privacy budget ledger (docs/location-risk.md)."""
