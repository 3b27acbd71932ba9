"""How the double reads names in SQL: identifiers, qualified names, ``$$`` literals, ``LIKE`` patterns."""

from __future__ import annotations

import re

from airflow_registry_provider.hooks.snowflake.names import RESERVED_KEYWORDS
from tests.snowflake.connector import DoubleSQLError

SYNTAX_ERROR = 1003
PART = r'(?:"(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)'
NAME = rf"{PART}(?:\.{PART}){{0,2}}"
#: A ``$$…$$`` literal: it ends at the first ``$$``.
DOLLARS = r"\$\$((?:(?!\$\$).)*)\$\$"


def unquote(part: str) -> str:
    """Snowflake identifier resolution: quoted keeps case, unquoted is upper-cased (reserved words refused)."""
    if part.startswith('"') and part.endswith('"'):
        return part[1:-1].replace('""', '"')
    if part.upper() in RESERVED_KEYWORDS:
        raise DoubleSQLError(f"SQL compilation error: syntax error: unexpected '{part}'.", errno=SYNTAX_ERROR)
    return part.upper()


def split_name(name: str) -> list[str]:
    return [unquote(p) for p in re.findall(PART, name)]


def like(value: str, pattern: str) -> bool:
    """``LIKE`` as ``SHOW … LIKE`` applies it: case-insensitive, ``%`` any run, ``_`` any character."""
    regex = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.IGNORECASE | re.DOTALL) is not None
