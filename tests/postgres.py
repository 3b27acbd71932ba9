"""Where the tests find PostgreSQL, and throw-away databases on it.

The location comes from ``ARP_PG_HOST``, ``ARP_PG_PORT`` and ``ARP_PG_USER`` (default
127.0.0.1, 5432, postgres: the trust-auth server on loopback). Every test that needs
PostgreSQL goes through this module, so pointing the suite at another server is one
environment change.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

PG: dict[str, Any] = {
    "host": os.environ.get("ARP_PG_HOST", "127.0.0.1"),
    "port": int(os.environ.get("ARP_PG_PORT", "5432")),
    "user": os.environ.get("ARP_PG_USER", "postgres"),
}


def connect(dbname: str = "postgres") -> Any:
    """An autocommit psycopg2 connection (CREATE/DROP DATABASE cannot run in a transaction)."""
    import psycopg2

    conn = psycopg2.connect(dbname=dbname, connect_timeout=3, **PG)
    conn.autocommit = True
    return conn


def admin(statement: str) -> None:
    """Run one statement on the ``postgres`` maintenance database."""
    conn = connect()
    try:
        conn.cursor().execute(statement)
    finally:
        conn.close()


def available() -> tuple[bool, str]:
    """Whether the server answers, and if not, a skip reason naming where it was looked for."""
    try:
        connect().close()
    except Exception as err:
        return False, f"PostgreSQL is not reachable at {PG['host']}:{PG['port']} as {PG['user']} (ARP_PG_*): {err}"
    return True, ""


def url(database: str) -> str:
    """The SQLAlchemy URL of ``database`` on the test server."""
    return f"postgresql://{PG['user']}@{PG['host']}:{PG['port']}/{database}"


@contextmanager
def temporary_database(prefix: str = "arp_test") -> Iterator[str]:
    """A uniquely named empty database (safe with parallel test workers), dropped afterwards."""
    name = f"{prefix}_{secrets.token_hex(6)}"
    admin(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
