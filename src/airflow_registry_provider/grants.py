"""The grant vocabulary shared by every backend.

Pure module (no Airflow imports). Privileges are named as Snowflake names them
(OWNERSHIP, USAGE, READ); each backend maps them to its own permission model.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Grant:
    """One privilege held by one grantee on one model.

    ``grantee`` is a role name, or ``user:<name>`` for a single user where the backend
    has per-user permissions (MLflow).
    """

    grantee: str
    privilege: str
