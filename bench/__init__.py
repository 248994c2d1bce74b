"""Benchmarks of the suite: `python -m bench.run` (or `make bench`) prints the table README keeps."""
