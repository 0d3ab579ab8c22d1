"""Evaluation: question sets, answerability training and curves, retrieval benchmarks and their reports."""
