"""Benchmarks of the export against the local BaseLinker sandbox (see bench/RESULTS.md)."""
