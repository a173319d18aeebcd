"""Benchmarks: figures as ratios against a raw baseline measured in the same run."""
