"""Splits, cross-validation and metrics: pure functions over arrays and estimators."""
