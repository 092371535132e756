"""Hark's tests. A package so that `tests.support` has one import name for tests and benchmarks alike."""
