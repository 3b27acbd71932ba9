"""Where the registry lives: the hook's parameters and the Snowflake connection's extras.

Order: ``SnowflakeRegistryHook(database=, schema=)``, then the extras
``registry_database``/``registry_schema``, then the connection's own database and schema.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from airflow_registry_provider.exceptions import InvalidInputError
from airflow_registry_provider.hooks.snowflake import names
from airflow_registry_provider.hooks.snowflake.inference import WRITE_MODES


@dataclass(frozen=True)
class Settings:
    database: str
    schema: str
    create_schema: bool
    batch_write_mode: str
    account: str
    region: str

    @property
    def location(self) -> str:
        return f"{self.database}.{self.schema}"


def read_settings(
    conn_id: str,
    connection: Any,
    *,
    database: str | None,
    schema: str | None,
    create_schema: bool | None,
    batch_write_mode: str | None,
) -> Settings:
    """Settings from the hook's parameters and an Airflow ``Connection`` of type ``snowflake``."""
    if connection.conn_type != "snowflake":
        raise InvalidInputError(
            "registry_conn_id", f"connection {conn_id!r} has type {connection.conn_type!r}; expected 'snowflake'"
        )
    extra = connection.extra_dejson

    def setting(name: str) -> Any:
        return extra.get(name, extra.get(f"extra__snowflake__{name}"))

    database = database or setting("registry_database") or setting("database")
    schema = schema or setting("registry_schema") or connection.schema or setting("schema")
    if not database:
        raise InvalidInputError(
            "database",
            f"no registry database: set extra 'database' (or 'registry_database') on connection {conn_id!r}, "
            "or pass database=",
        )
    if not schema:
        raise InvalidInputError(
            "schema",
            f"no registry schema: set the schema (or extra 'registry_schema') on connection {conn_id!r}, "
            "or pass schema=",
        )
    mode = batch_write_mode or setting("batch_write_mode") or "overwrite"
    if mode not in WRITE_MODES:
        raise InvalidInputError("batch_write_mode", f"must be one of {sorted(WRITE_MODES)}, not {mode!r}")
    create = create_schema if create_schema is not None else setting("create_schema")
    return Settings(
        database=names.identifier(database, "database"),
        schema=names.identifier(schema, "schema"),
        create_schema=str(create).lower() in ("true", "1", "yes"),
        batch_write_mode=mode,
        account=str(setting("account") or ""),
        region=str(setting("region") or ""),
    )


def snowsight_base(settings: Settings) -> str | None:
    """The Snowsight URL of the account, when its identifier says where it lives."""
    account = settings.account.lower()
    if "-" in account and "." not in account:  # <org>-<account_name>
        org, _, name = account.partition("-")
        return f"https://app.snowflake.com/{org}/{name}"
    if account and (settings.region or "." in account):  # <locator>[.<region>[.<cloud>]]
        locator, _, region = account.partition(".")
        return f"https://app.snowflake.com/{region or settings.region.lower()}/{locator}"
    return None
