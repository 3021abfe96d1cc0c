"""Benchmarks for the help line: load against a minimal baseline, scale, micro timings and a soak.

Run `make bench` (or `python -m bench`); `python -m bench --smoke` checks the harness in seconds.
Results go to bench/results/ and docs/benchmarks.md. See docs/benchmarks.md for what is measured.
"""
