"""Evaluation gates: candidate vs incumbent on the same rows, per slice, with bootstrap intervals.

Pure numpy cores (`metrics`, `slicing`, `bootstrap`, `thresholds`, `verdict`) and thin adapters at the
edge (`dataset`, `scoring`, `report`, `publish`, `evaluate`). The verdict layout is documented in
docs/gate-verdict.md.
"""
