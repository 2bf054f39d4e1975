"""Benchmarks: ``make bench`` runs every ``bench/bench_*.py`` module and prints a table of medians.

A module exposes ``BENCHMARKS``, a list of :class:`bench.core.Benchmark`. Each benchmark
gets a fresh context and returns a list of samples (seconds, bytes or any number) plus
the unit; the runner prints median, min, max and the target from the issue.
"""
