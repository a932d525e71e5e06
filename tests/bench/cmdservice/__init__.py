"""Helpers of the command benchmark's multi-process runs (not a benchmark of their own)."""
