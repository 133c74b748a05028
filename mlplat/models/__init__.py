"""Algorithm config -> estimator, built only from allow-listed modules."""
