"""Benchmarks and evaluations, one command each."""
