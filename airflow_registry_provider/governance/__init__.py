"""Pure governance cores (no Airflow imports): identifiers, audit records, retention
planning, version comparison, model cards and lineage identities.

Operators and hooks build on these; tests exercise them directly.
"""
