"""Benchmarks of netra_frames against the local server: ``python -m benchmarks.run``."""
