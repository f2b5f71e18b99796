"""Benchmark harness: `uv run python -m bench --sizes 10k,100k,1M` (see docs/scaling.md)."""
