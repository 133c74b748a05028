"""Feature-set config -> scikit-learn steps, fitted inside each CV fold."""
