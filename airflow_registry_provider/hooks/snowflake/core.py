"""The Snowflake hook's core: connection, session lifetime, error translation, cached reads, preflight.

``SnowflakeRegistryHook`` (``hook.py``) is this core plus the writes, and mixins for
aliases (``alias_ops.py``), serving (``serving.py``) and grants (``grants_ops.py``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow_registry_provider.exceptions import (
    AliasNotFoundError,
    InvalidInputError,
    ModelNotFoundError,
    PrivilegeError,
    VersionConflictError,
    VersionNotFoundError,
)
from airflow_registry_provider.hooks.base import RegistryHook
from airflow_registry_provider.hooks.snowflake import grants, library, metadata, names
from airflow_registry_provider.hooks.snowflake.cache import ReadCache, Row
from airflow_registry_provider.hooks.snowflake.connection import Settings, read_settings
from airflow_registry_provider.model_version import ModelVersion
from airflow_registry_provider.naming import snowflake_version_name

if TYPE_CHECKING:
    from snowflake.ml.model import Model as LibraryModel
    from snowflake.ml.model import ModelVersion as LibraryModelVersion
    from snowflake.ml.registry import Registry
    from snowflake.snowpark import Session

NOT_FOUND = 2003  # Snowflake: object does not exist or not authorized
INSUFFICIENT_PRIVILEGES = 3001
ALREADY_EXISTS = 2002


class SnowflakeCore(RegistryHook):
    """What every part of the Snowflake hook shares (see ``hook.py`` for the parameters)."""

    def __init__(
        self,
        registry_conn_id: str = "snowflake_default",
        *,
        database: str | None = None,
        schema: str | None = None,
        create_schema: bool | None = None,
        batch_write_mode: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(registry_conn_id=registry_conn_id, **kwargs)
        self._database, self._schema = database, schema
        self._create_schema, self._batch_write_mode = create_schema, batch_write_mode
        self._cache = ReadCache()

    # -- connection and lifetime -------------------------------------------------------
    @cached_property
    def settings(self) -> Settings:
        """Registry location and account details, from the parameters and the connection."""
        from airflow.exceptions import AirflowNotFoundException

        try:
            conn = self.get_connection(self.registry_conn_id)
        except AirflowNotFoundException:
            raise InvalidInputError(
                "registry_conn_id", f"connection {self.registry_conn_id!r} is not defined"
            ) from None
        return read_settings(
            self.registry_conn_id,
            conn,
            database=self._database,
            schema=self._schema,
            create_schema=self._create_schema,
            batch_write_mode=self._batch_write_mode,
        )

    @property
    def location(self) -> str:
        """``DATABASE.SCHEMA`` of the registry."""
        return self.settings.location

    @cached_property
    def session(self) -> Session:
        """A Snowpark session opened from the Snowflake connection (closed by :meth:`close`)."""
        from airflow.providers.snowflake.hooks.snowflake import SnowflakeHook

        self.settings  # noqa: B018 - fail on a missing/misconfigured connection before connecting
        return SnowflakeHook(snowflake_conn_id=self.registry_conn_id).get_snowpark_session()

    @cached_property
    def registry(self) -> Registry:
        """The ``snowflake.ml.registry.Registry`` at the configured location."""
        from snowflake.ml.registry import Registry

        database, schema = self.settings.database, self.settings.schema

        def open_registry() -> Registry:
            return Registry(
                self.session, database_name=database, schema_name=schema, options={"enable_monitoring": False}
            )

        try:
            return open_registry()
        except ValueError as err:
            message = str(err)
            if message.startswith("Database"):
                raise InvalidInputError(
                    "database", f"database {database} does not exist or the connection's role cannot use it"
                ) from None
            if not message.startswith("Schema"):
                raise
            if not self.settings.create_schema:
                raise InvalidInputError(
                    "schema",
                    f"schema {database}.{schema} does not exist or the connection's role cannot use it "
                    "(create_schema=True creates it)",
                ) from None
        self.log.info("Creating the registry schema %s.%s", database, schema)
        self._sql(f"CREATE SCHEMA IF NOT EXISTS {database}.{schema}")
        return open_registry()

    @cached_property
    def _client(self) -> library.LibraryClient:
        return library.LibraryClient(self.registry)

    def test_connection(self) -> tuple[bool, str]:
        try:
            self.registry  # noqa: B018 - opening the registry checks database and schema
        except Exception as err:
            return False, str(err)
        finally:
            self.close()
        return True, f"Connected to the Snowflake model registry {self.location}"

    def close(self) -> None:
        """Close the Snowpark session (if one was opened) and forget everything read through it."""
        session = self.__dict__.pop("session", None)
        for name in ("registry", "_client", "_roles", "_role_names"):
            self.__dict__.pop(name, None)
        self._cache.clear()
        if session is not None:
            session.close()

    def __enter__(self) -> SnowflakeCore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- SQL, errors and the one place writes invalidate what was read -----------------
    def _sql(self, statement: str) -> list[dict[str, Any]]:
        with self._translated():
            return [row.as_dict() for row in self.session.sql(statement).collect()]

    @contextmanager
    def _translated(self, model_name: str | None = None) -> Iterator[None]:
        """Snowflake's "not authorized" and "does not exist" errors as the provider's typed errors."""
        from snowflake.snowpark.exceptions import SnowparkSQLException

        try:
            yield
        except SnowparkSQLException as err:
            if err.sql_error_code == INSUFFICIENT_PRIVILEGES:
                raise PrivilegeError(
                    "registry_conn_id", f"the connection's role lacks a privilege: {err.message}"
                ) from err
            if err.sql_error_code == NOT_FOUND and model_name is not None:
                self.registry  # noqa: B018 - a missing database or schema is named as such
                raise self._no_model(model_name) from err
            raise

    @contextmanager
    def _writing(self, model_name: str, **changes: Any) -> Iterator[None]:
        """Run a write to ``model_name``; afterwards (also on failure) the cache forgets what it staled."""
        written = False
        try:
            with self._translated(model_name):
                yield
            written = True
        finally:
            if not written:
                changes.pop("metadata", None)
                changes.pop("owner", None)
            self._cache.changed(model_name, **changes)

    def _no_model(self, model_name: str) -> ModelNotFoundError:
        return ModelNotFoundError(
            "model_name", f"model {model_name} does not exist in {self.location} or the connection's role cannot see it"
        )

    # -- names and values ----------------------------------------------------------------
    def validate_model_name(self, model_name: str, field: str = "model_name") -> str:
        return names.identifier(model_name, field)

    def validate_alias(self, alias: str, field: str = "alias") -> str:
        return names.alias(alias, field)

    def validate_version_name(self, version_name: str, field: str = "version_name") -> str:
        return snowflake_version_name(version_name, field)

    def validate_tags(self, tags: Mapping[str, Any], field: str = "tags", *, level: str = "version") -> dict[str, str]:
        """Keys without ``"``/``$$``; values without ``$$`` and within the level's limit (model: 256)."""
        if not isinstance(tags, Mapping):
            raise InvalidInputError(field, f"expected a mapping of tag key to value, got {type(tags).__name__}")
        if level not in ("version", "model"):
            raise InvalidInputError("level", f"must be 'version' or 'model', not {level!r}")
        limit = self.max_model_tag_length if level == "model" else self.max_version_tag_length
        checked = {}
        for key, value in tags.items():
            text = metadata.check_tag_key(key, field)
            names.check_json_strings(str(value), f"{field}.{key}")
            if level == "model":
                names.check_dollar_quoting(str(value), f"{field}.{key}")
            if len(str(value)) > limit:
                raise InvalidInputError(f"{field}.{key}", f"is {len(str(value))} characters; {level} tags hold {limit}")
            checked[text] = str(value)
        return checked

    def validate_metrics(self, metrics: Mapping[str, Any], field: str = "metrics") -> dict[str, float]:
        from airflow_registry_provider.gates import coerce_metrics

        checked = coerce_metrics(metrics, field)
        for name in checked:
            if not name or "$$" in name:
                raise InvalidInputError(f"{field}.{name}", "metric names are non-empty and hold no '$$'")
        return checked

    # -- reads ---------------------------------------------------------------------------
    def _model_row(self, model_name: str) -> Row | None:
        """``SHOW MODELS LIKE``: the model's row (owner …), None when it does not exist or is not visible."""

        def load() -> Row | None:
            with self._translated(model_name):
                rows = self._sql(f"SHOW MODELS LIKE '{model_name}' IN SCHEMA {self.location}")
            return next((r for r in rows if r.get("name") == model_name), None)  # LIKE: '_' is a wildcard

        return self._cache.model_row(model_name, load)

    def _listing(self, model_name: str) -> dict[str, Row]:
        """Every version's ``SHOW VERSIONS`` row (``Model.show_versions()``), until this hook writes to the model."""

        def load() -> dict[str, Row]:
            with self._translated(model_name):
                frame = self._model(model_name).show_versions()
            return {str(row["name"]): row for row in frame.to_dict("records")}

        return self._cache.listing(model_name, load)

    def _version_row(self, model_name: str, version: str) -> Row | None:
        """One version's row, read fresh: ``SHOW VERSIONS LIKE`` (``_`` matches any character: filtered)."""
        with self._translated(model_name):
            rows = self._sql(f"SHOW VERSIONS LIKE '{version}' IN MODEL {self.location}.{model_name}")
        return next((r for r in rows if r.get("name") == version), None)

    def _model(self, model_name: str) -> LibraryModel:
        return self._cache.library_object(model_name, None, lambda: self._client.model(model_name))

    def _model_version(self, model_name: str, version: str) -> LibraryModelVersion:
        if version not in self._listing(model_name):
            raise self._no_version(model_name, version)
        return self._cache.library_object(model_name, version, lambda: self._client.model_version(model_name, version))

    def _no_version(self, model_name: str, version: str) -> VersionNotFoundError:
        return VersionNotFoundError("version", f"version {version} of {model_name} does not exist in {self.location}")

    def _to_version(self, model_name: str, row: Row) -> ModelVersion:
        return metadata.to_version(self.location, model_name, row)

    def get_version(self, model_name: str, version: str | None = None, *, alias: str | None = None) -> ModelVersion:
        if (version is None) == (alias is None):
            raise InvalidInputError("version", "give exactly one of version and alias")
        model_name = self.validate_model_name(model_name)
        if alias is not None:
            found = self.get_alias_version(model_name, alias)
            if found is None:
                raise AliasNotFoundError("alias", f"no version of {model_name} holds alias {alias!r}")
            return found
        version_id = names.version_id(str(version))
        row = self._listing(model_name).get(version_id)
        if row is None:
            raise self._no_version(model_name, version_id)
        found = self._to_version(model_name, row)
        if "." in str(version) and found.version_name != version:  # a semantic name: the recorded one must match
            raise VersionNotFoundError("version", f"no version of {model_name} is named {version!r}")
        return found

    def get_alias_version(self, model_name: str, alias: str) -> ModelVersion | None:
        model_name = self.validate_model_name(model_name)
        alias = self.validate_alias(alias)
        listing = self._listing(model_name)
        holder = metadata.alias_holder(listing, alias)
        return None if holder is None else self._to_version(model_name, listing[holder])

    def find_version(self, model_name: str, version_name: str) -> ModelVersion | None:
        """The version registered as ``version_name``: one ``SHOW VERSIONS LIKE`` with its identifier.

        Raises VersionConflictError naming ``version_name`` when that identifier is taken
        by another semantic version (``1.2.0-rc.1`` and ``1.2.0-RC-1`` are both ``V1_2_0_RC_1``).
        """
        model_name = self.validate_model_name(model_name)
        version = self.validate_version_name(version_name)
        if model_name in self._cache.listings:
            row = self._cache.listings[model_name].get(version)
        elif self._model_row(model_name) is None:
            return None
        else:
            row = self._version_row(model_name, version)
        if row is None:
            return None
        found = self._to_version(model_name, row)
        if found.version_name != version_name:
            raise VersionConflictError(
                "version_name",
                f"{version_name!r} becomes Snowflake version {version}, which already holds "
                f"{found.version_name or 'a version registered outside the provider'!r} in {model_name}; "
                "choose a version name with another identifier",
            )
        return found

    def iter_versions(self, model_name: str, *, page_size: int = 1000) -> Iterator[ModelVersion]:
        """Every version, newest first (none for a model that does not exist). ``page_size`` is unused."""
        model_name = self.validate_model_name(model_name)
        try:
            listing = self._listing(model_name)
        except ModelNotFoundError:
            return
        versions = [self._to_version(model_name, row) for row in listing.values()]
        versions.sort(key=lambda v: (v.created_at is not None, v.created_at or 0), reverse=True)
        yield from versions

    def get_model_tags(self, model_name: str) -> dict[str, str]:
        """Tags on the model; the provider's own are keyed by name, others by ``DB.SCHEMA.TAG``."""
        model_name = self.validate_model_name(model_name)
        if self._model_row(model_name) is None:
            raise self._no_model(model_name)
        with self._translated(model_name):
            shown = self._model(model_name).show_tags()
        return {metadata.tag_key(self.location, name): value for name, value in shown.items()}

    def get_default_version(self, model_name: str) -> str | None:
        listing = self._listing(self.validate_model_name(model_name))
        return next((name for name, row in listing.items() if metadata.is_default(row)), None)

    # -- preflight -------------------------------------------------------------------------
    @cached_property
    def _roles(self) -> grants.RoleHierarchy:
        role = (self.session.get_current_role() or "").strip('"')
        if not role:
            raise PrivilegeError("registry_conn_id", "the Snowflake session has no active role")
        return grants.RoleHierarchy(role, lambda r: self._sql(grants.show_grants_to_role_sql(r)))

    def _require_owner(self, model_name: str, why: str) -> None:
        row = self._model_row(model_name)
        if row is None:
            raise self._no_model(model_name)
        self._roles.require_owner(str(row.get("owner") or ""), model_name, why)

    def _schema_need(self, privilege: str, why: str) -> grants.Need:
        return grants.Need(privilege, "SCHEMA", self.location, why)
