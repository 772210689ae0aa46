"""Benchmarks (`make bench`): whole-path figures against the simulators. They measure and print; they never assert."""
