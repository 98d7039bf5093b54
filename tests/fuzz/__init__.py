"""Hypothesis strategies and reference checks shared by tests/test_fuzz.py.

``python tests/fuzz/run.py`` runs the same property tests with many more
examples (a long fuzzing session); the test suite runs a bounded number.
"""
