"""Governance fixtures the operator tests share (defined in ``tests/governance/fixtures.py``)."""

from __future__ import annotations

from tests.governance.fixtures import make_versions, mlflow_auth_server, pg_conn_id

__all__ = ["make_versions", "mlflow_auth_server", "pg_conn_id"]
