"""Benchmarks: `python -m bench` (see run.py). Not tests: CI does not run them."""
