"""Dataset sources, schema validation and fingerprints. Knows nothing of the store."""
