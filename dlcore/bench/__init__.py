"""Benchmark suites behind `dlcore bench <family>`."""
