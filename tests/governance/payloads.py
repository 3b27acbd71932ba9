"""Hostile names shared by the injection tests of grants, audit tables and operators."""

from __future__ import annotations

INJECTIONS: tuple[str, ...] = (
    "r; DROP MODEL m",
    'ML_ADMIN"; DROP MODEL m; --',
    "ML_ADMIN' OR '1'='1",
    "ML_ADMIN -- comment",
    "ML_ADMIN/* comment */",
    "ML_\u0410DMIN",  # Cyrillic capital A looks like a Latin A
    "\uff2d\uff2c_ADMIN",  # full-width M and L
    "ML_ADMIN\n",
    "ML_ADMIN\x00",
    "db.schema",
    "ROLE`X`",
    " ML_ADMIN",
    "",
    "A" * 300,
    "ml admin",
    "${jndi:ldap://x}",
    "{{ var.value.secret }}",
    "1ROLE",
)
