"""Benchmarks that measure the vision core on real data and print numbers."""
