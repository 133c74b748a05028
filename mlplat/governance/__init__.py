"""Audit trail, lineage, model cards and governance reports."""
