"""Evaluation: question sets, calibration, retrieval benchmarks and their reports."""
