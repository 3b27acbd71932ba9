"""Snowflake Model Registry hook.

``SnowflakeHook`` (connection type ``snowflake``) -> Snowpark session ->
``snowflake.ml.registry.Registry``. snowflake-ml-python and Snowpark are imported inside
methods, so importing this module (and the operators) costs no Snowflake import.

Layout in the account (documented for users in ``docs/snowflake.md``):

* Versions are named by converting the semantic name: ``1.2.0`` -> ``V1_2_0``.
* Version "tags" do not exist in Snowflake. The provider's version tags live in the
  version metadata (``ALTER MODEL … MODIFY VERSION … SET METADATA``) under the key
  :data:`METADATA_TAGS_KEY`, next to the library's own ``metrics``.
* Model tags are Snowflake tag objects named after the tag key (a quoted identifier,
  e.g. ``ML.REGISTRY."airflow_registry.alias_history"``) in the registry schema, set
  with ``Model.set_tag``.
* Files stored with a version (model cards, drift profiles, reports) go to the internal
  stage ``@<db>.<schema>.MODEL_ARTIFACTS/<MODEL>/<VERSION>/<path>``.

Round trips: snowflake-ml-python resolves versions and aliases with repeated ``SHOW``
statements. This hook keeps the ``Registry``, ``Model`` and ``ModelVersion`` objects and
the versions listing of each model for the life of the hook (one operator run), drops a
model's listing whenever it writes to that model, and writes all of an operator's metrics
or tags in one metadata statement.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

from airflow_registry_provider import tags as tag_keys
from airflow_registry_provider.exceptions import InvalidInputError
from airflow_registry_provider.governance import snowflake_sql
from airflow_registry_provider.governance.grants import Grant, GrantCapabilities
from airflow_registry_provider.hooks.base import ModelPackage, Predictor, RegistryHook
from airflow_registry_provider.model_version import ModelVersion
from airflow_registry_provider.naming import (
    SNOWFLAKE_RESERVED_ALIASES,
    snowflake_version_name,
    validate_snowflake_alias,
    validate_snowflake_identifier,
)

if TYPE_CHECKING:
    import pandas as pd
    from snowflake.ml.model import Model as SnowflakeModel
    from snowflake.ml.model import ModelVersion as SnowflakeModelVersion
    from snowflake.ml.registry import Registry
    from snowflake.snowpark import DataFrame as SnowparkDataFrame
    from snowflake.snowpark import Row, Session

#: Version metadata key holding the provider's version tags.
METADATA_TAGS_KEY = "airflow_registry_tags"
#: Internal stage (in the registry schema) for files stored with versions.
ARTIFACT_STAGE = "MODEL_ARTIFACTS"
WAREHOUSE = "WAREHOUSE"
SNOWPARK_CONTAINER_SERVICES = "SNOWPARK_CONTAINER_SERVICES"
#: Flavors snowflake-ml-python can run in a warehouse (Python UDF with the estimator).
WAREHOUSE_FLAVORS = frozenset({"sklearn", "xgboost", "lightgbm"})
#: Top-level modules whose estimators a warehouse-served scikit-learn pipeline may contain.
_WAREHOUSE_MODULES = frozenset({"sklearn", "xgboost", "lightgbm"})
#: ``ModelPackage.options`` (``LogModelOperator(backend_options=…)``) understood here.
PACKAGE_OPTIONS = frozenset({"target_platforms", "conda_dependencies", "pip_requirements", "relax_version"})
BATCH_WRITE_MODES = frozenset({"overwrite", "append", "errorifexists"})
#: Snowflake's limit on a tag value.
TAG_VALUE_LIMIT = 256
_METADATA_SCHEMA_VERSION = "2024-01-01"  # snowflake-ml-python's ModelVersionMetadataSchema version
_PREDICT = "predict"
_NOT_FOUND = 2003  # Snowflake: object does not exist or not authorized
_QUALIFIED_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*){0,2}$")
_ARTIFACT_PATH = re.compile(r"^[A-Za-z0-9_\-.]+(/[A-Za-z0-9_\-.]+)*$")
_PLAIN_VERSION = re.compile(r"^V(0|[1-9]\d*)_(0|[1-9]\d*)_(0|[1-9]\d*)$")


def check_dollar_quoting(text: str, field: str) -> str:
    """Reject text that would end snowflake-ml-python's ``$$…$$`` literal early.

    snowflake-ml-python 2.6 sends comments, metadata and tag values inside ``$$…$$``
    without escaping; ``$$`` inside (or a trailing ``$``) would close the literal and let
    the rest run as SQL.
    """
    if "$$" in text or text.endswith("$"):
        raise InvalidInputError(
            field, "contains '$$' or ends with '$', which Snowflake's $$-quoted literals cannot hold; remove it"
        )
    return text


def _check_json_strings(value: Any, field: str) -> None:
    """Apply :func:`check_dollar_quoting` to every key and string in a JSON document."""
    if isinstance(value, str):
        if "$$" in value:
            check_dollar_quoting(value, field)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            _check_json_strings(str(key), f"{field}.{key}")
            _check_json_strings(item, f"{field}.{key}")
    elif isinstance(value, list | tuple):
        for item in value:
            _check_json_strings(item, field)


def qualified_name(name: str, field: str) -> str:
    """A table name, optionally ``db.schema.``-qualified, as unquoted upper-case identifiers."""
    if not isinstance(name, str) or not _QUALIFIED_NAME.match(name.strip()):
        raise InvalidInputError(
            field, f"{name!r} is not a table name ([database.][schema.]table of letters, digits, '_' and '$')"
        )
    return name.strip().upper()


def is_query(source: str) -> bool:
    return re.match(r"^\s*(SELECT|WITH)\s", source, re.IGNORECASE) is not None


def semantic_name(version: str) -> str | None:
    """``V1_2_0`` -> ``1.2.0`` for versions named without pre-release; otherwise None."""
    match = _PLAIN_VERSION.match(version)
    return ".".join(match.groups()) if match else None


def fit_tag_value(key: str, value: str) -> str:
    """A model tag value within Snowflake's 256-character limit.

    JSON arrays (append-only logs such as ``airflow_registry.alias_history``) keep their
    newest entries that fit; any other value that is too long is rejected.
    """
    if len(value) <= TAG_VALUE_LIMIT:
        return value
    try:
        entries = json.loads(value)
    except ValueError:
        entries = None
    if not isinstance(entries, list):
        raise InvalidInputError(
            f"tags.{key}", f"is {len(value)} characters; Snowflake tag values hold at most {TAG_VALUE_LIMIT}"
        )
    while entries:
        text = json.dumps(entries, sort_keys=True, default=str)
        if len(text) <= TAG_VALUE_LIMIT:
            return text
        entries = entries[1:]
    return "[]"


class SnowflakeRegistryHook(RegistryHook):
    """Registry hook for the Snowflake Model Registry.

    Uses a Snowflake connection of ``apache-airflow-providers-snowflake`` (conn type
    ``snowflake``). The registry location is ``database``/``schema`` given here, else the
    connection extras ``registry_database``/``registry_schema``, else the connection's
    own database and schema.

    :param registry_conn_id: The Snowflake connection.
    :param database: Registry database (overrides the connection).
    :param schema: Registry schema (overrides the connection).
    :param create_schema: Create the registry schema when it does not exist (extra
        ``create_schema`` does the same).
    :param batch_write_mode: How ``batch_predict`` writes its table: ``overwrite``
        (default), ``append`` or ``errorifexists`` (extra ``batch_write_mode``).
    """

    conn_name_attr = "registry_conn_id"
    default_conn_name = "snowflake_default"
    conn_type = "snowflake"
    hook_name = "Snowflake Model Registry"
    backend: ClassVar[str] = "snowflake"
    has_default_version: ClassVar[bool] = True
    grant_capabilities: ClassVar[GrantCapabilities | None] = snowflake_sql.CAPABILITIES
    # Model tags are Snowflake object tags; version tags live in the version's metadata.
    max_model_tag_length: ClassVar[int] = TAG_VALUE_LIMIT
    max_version_tag_length: ClassVar[int] = 100_000
    max_tag_key_length: ClassVar[int] = 255

    def __init__(
        self,
        registry_conn_id: str = default_conn_name,
        *,
        database: str | None = None,
        schema: str | None = None,
        create_schema: bool | None = None,
        batch_write_mode: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(registry_conn_id=registry_conn_id, **kwargs)
        self._database = database
        self._schema = schema
        self._create_schema = create_schema
        self._batch_write_mode = batch_write_mode
        self._models: dict[str, SnowflakeModel] = {}
        self._listings: dict[str, dict[str, Row]] = {}
        self._model_versions: dict[tuple[str, str], SnowflakeModelVersion] = {}
        self._tags_created: set[str] = set()
        # Metadata documents this hook wrote: the next read-modify-write of the same version
        # in this task (e.g. the audit log after registration) skips its SHOW VERSIONS.
        self._written_metadata: dict[tuple[str, str], dict[str, Any]] = {}
        self._stage_ready = False

    # -- connection ------------------------------------------------------------------
    @cached_property
    def _settings(self) -> dict[str, Any]:
        """Registry location and account details, from the parameters and the connection."""
        from airflow.exceptions import AirflowNotFoundException

        try:
            conn = self.get_connection(self.registry_conn_id)
        except AirflowNotFoundException:
            raise InvalidInputError(
                "registry_conn_id", f"connection {self.registry_conn_id!r} is not defined"
            ) from None
        if conn.conn_type != "snowflake":
            raise InvalidInputError(
                "registry_conn_id",
                f"connection {self.registry_conn_id!r} has type {conn.conn_type!r}; expected 'snowflake'",
            )
        extra = conn.extra_dejson

        def setting(name: str) -> Any:
            return extra.get(name, extra.get(f"extra__snowflake__{name}"))

        database = self._database or setting("registry_database") or setting("database")
        schema = self._schema or setting("registry_schema") or conn.schema or setting("schema")
        if not database:
            raise InvalidInputError(
                "database",
                f"no registry database: set extra 'database' (or 'registry_database') on connection "
                f"{self.registry_conn_id!r}, or pass database=",
            )
        if not schema:
            raise InvalidInputError(
                "schema",
                f"no registry schema: set the schema (or extra 'registry_schema') on connection "
                f"{self.registry_conn_id!r}, or pass schema=",
            )
        mode = self._batch_write_mode or setting("batch_write_mode") or "overwrite"
        if mode not in BATCH_WRITE_MODES:
            raise InvalidInputError("batch_write_mode", f"must be one of {sorted(BATCH_WRITE_MODES)}, not {mode!r}")
        create = self._create_schema if self._create_schema is not None else setting("create_schema")
        return {
            "database": validate_snowflake_identifier(database, "database"),
            "schema": validate_snowflake_identifier(schema, "schema"),
            "create_schema": str(create).lower() in ("true", "1", "yes"),
            "batch_write_mode": mode,
            "account": setting("account") or "",
            "region": setting("region") or "",
        }

    @property
    def location(self) -> str:
        """``DATABASE.SCHEMA`` of the registry."""
        return f"{self._settings['database']}.{self._settings['schema']}"

    @cached_property
    def session(self) -> Session:
        """A Snowpark session opened from the Snowflake connection."""
        from airflow.providers.snowflake.hooks.snowflake import SnowflakeHook

        self._settings  # noqa: B018 - fail on a missing/misconfigured connection before connecting
        return SnowflakeHook(snowflake_conn_id=self.registry_conn_id).get_snowpark_session()

    @cached_property
    def registry(self) -> Registry:
        """The ``snowflake.ml.registry.Registry`` at the configured location."""
        from snowflake.ml.registry import Registry

        database, schema = self._settings["database"], self._settings["schema"]

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
            if not self._settings["create_schema"]:
                raise InvalidInputError(
                    "schema",
                    f"schema {database}.{schema} does not exist or the connection's role cannot use it "
                    "(create_schema=True creates it)",
                ) from None
        self.log.info("Creating the registry schema %s.%s", database, schema)
        self.session.sql(f"CREATE SCHEMA IF NOT EXISTS {database}.{schema}").collect()
        return open_registry()

    def test_connection(self) -> tuple[bool, str]:
        try:
            self.registry  # noqa: B018 - opening the registry checks database and schema
        except Exception as err:
            return False, str(err)
        return True, f"Connected to the Snowflake model registry {self.location}"

    # -- names -----------------------------------------------------------------------
    def validate_model_name(self, model_name: str, field: str = "model_name") -> str:
        return validate_snowflake_identifier(model_name, field)

    def validate_alias(self, alias: str, field: str = "alias") -> str:
        return validate_snowflake_alias(alias, field)

    def validate_version_name(self, version_name: str, field: str = "version_name") -> str:
        return snowflake_version_name(version_name, field)

    def validate_tags(self, tags: Mapping[str, Any], field: str = "tags", *, level: str = "version") -> dict[str, str]:
        checked = {}
        for key, value in tags.items():
            if not key or '"' in key or len(key) > self.max_tag_key_length:
                raise InvalidInputError(f"{field}.{key}", "tag keys are 1-255 characters without '\"'")
            checked[str(key)] = check_dollar_quoting(str(value), f"{field}.{key}")
        return checked

    def validate_metrics(self, metrics: Mapping[str, Any], field: str = "metrics") -> dict[str, float]:
        from airflow_registry_provider.gates import coerce_metrics

        return coerce_metrics(metrics, field)

    def _version_id(self, version: str, field: str = "version") -> str:
        """A version given as Snowflake id (``V1_2_0``) or semantic name (``1.2.0``)."""
        if isinstance(version, str) and "." in version:
            return snowflake_version_name(version, field)
        name = validate_snowflake_identifier(version, field)
        if name in SNOWFLAKE_RESERVED_ALIASES:
            raise InvalidInputError(field, f"{version!r} is a system alias, not a version")
        return name

    # -- library objects and cached reads ----------------------------------------------
    @property
    def _ops(self) -> Any:
        """The registry's ``ModelOperator``: single statements without the public API's existence checks."""
        return self.registry._model_manager._model_ops

    def _model(self, model_name: str) -> SnowflakeModel:
        """The library's ``Model`` (one ``SHOW MODELS`` per model and hook instance)."""
        if model_name not in self._models:
            try:
                self._models[model_name] = self.registry.get_model(model_name)
            except ValueError:
                raise InvalidInputError("model_name", f"model {model_name} does not exist in {self.location}") from None
        return self._models[model_name]

    def _show_versions(self, model_name: str, version: str | None = None) -> list[Row]:
        """``SHOW VERSIONS [LIKE] IN MODEL``; a missing model is an InvalidInputError."""
        from snowflake.ml._internal.utils.sql_identifier import SqlIdentifier
        from snowflake.snowpark.exceptions import SnowparkSQLException

        try:
            rows: list[Row] = self._ops._model_client.show_versions(
                database_name=None,
                schema_name=None,
                model_name=SqlIdentifier(model_name),
                version_name=SqlIdentifier(version) if version else None,
                validate_result=False,
            )
        except SnowparkSQLException as err:
            if err.sql_error_code == _NOT_FOUND:
                raise InvalidInputError("model_name", f"model {model_name} does not exist in {self.location}") from None
            raise
        # LIKE 'V1_2_0' also matches V1X2Y0: '_' is a wildcard.
        return [row for row in rows if version is None or row["name"] == version]

    def _listing_if_exists(self, model_name: str) -> dict[str, Row] | None:
        """:meth:`_listing`, or None when the model does not exist."""
        try:
            return self._listing(model_name)
        except InvalidInputError as err:
            if err.field == "model_name":
                return None
            raise

    def _listing(self, model_name: str) -> dict[str, Row]:
        """Every version's ``SHOW VERSIONS`` row, cached until this hook writes to the model."""
        if model_name not in self._listings:
            self._listings[model_name] = {str(row["name"]): row for row in self._show_versions(model_name)}
        return self._listings[model_name]

    def _changed(self, model_name: str) -> None:
        """Forget what was read about a model after writing to it."""
        self._listings.pop(model_name, None)

    def _version_row(self, model_name: str, version: str) -> Row:
        """One version's row, read fresh (read-modify-write of its metadata)."""
        rows = self._show_versions(model_name, version)
        if not rows:
            raise InvalidInputError("version", f"version {version} of {model_name} does not exist in {self.location}")
        return rows[0]

    def _model_version(self, model_name: str, version: str) -> SnowflakeModelVersion:
        """The library's ``ModelVersion`` (functions and signatures), once per hook instance.

        Built from the ids once the listing shows the version exists: ``Model.version()``
        would spend two more ``SHOW VERSIONS`` finding it again.
        """
        from snowflake.ml._internal.utils.sql_identifier import SqlIdentifier
        from snowflake.ml.model import ModelVersion as LibraryModelVersion

        key = (model_name, version)
        if key not in self._model_versions:
            if version not in self._listing(model_name):
                raise InvalidInputError(
                    "version", f"version {version} of {model_name} does not exist in {self.location}"
                )
            self._model_versions[key] = LibraryModelVersion._ref(
                self._ops,
                service_ops=self.registry._model_manager._service_ops,
                model_name=SqlIdentifier(model_name),
                version_name=SqlIdentifier(version),
            )
        return self._model_versions[key]

    @staticmethod
    def _metadata(row: Row) -> dict[str, Any]:
        text = row["metadata"]
        document = json.loads(text) if text else {}
        return document if isinstance(document, dict) else {}

    def _to_version(self, model_name: str, row: Row) -> ModelVersion:
        metadata = self._metadata(row)
        tags = {str(k): str(v) for k, v in (metadata.get(METADATA_TAGS_KEY) or {}).items()}
        metrics = {
            str(k): float(v)
            for k, v in (metadata.get("metrics") or {}).items()
            if isinstance(v, int | float) and not isinstance(v, bool)
        }
        version = str(row["name"])
        aliases = [a for a in json.loads(row["aliases"] or "[]") if a.upper() not in SNOWFLAKE_RESERVED_ALIASES]
        created = row["created_on"]
        return ModelVersion(
            model_name=model_name,
            version=version,
            uri=f"snowflake://{self.location}.{model_name}/{version}",
            version_name=tags.get(tag_keys.VERSION_NAME) or semantic_name(version),
            aliases=tuple(aliases),
            tags=tags,
            metrics=metrics,
            description=row["comment"] or None,
            created_at=created if isinstance(created, datetime) else None,
        )

    # -- reads -----------------------------------------------------------------------
    def get_version(self, model_name: str, version: str | None = None, *, alias: str | None = None) -> ModelVersion:
        if (version is None) == (alias is None):
            raise InvalidInputError("version", "give exactly one of version and alias")
        model_name = self.validate_model_name(model_name)
        if alias is not None:
            found = self.get_alias_version(model_name, alias)
            if found is None:
                raise InvalidInputError("alias", f"no version of {model_name} holds alias {alias!r}")
            return found
        version = self._version_id(str(version))
        row = self._listing(model_name).get(version)
        if row is None:
            raise InvalidInputError("version", f"version {version} of {model_name} does not exist in {self.location}")
        return self._to_version(model_name, row)

    def get_alias_version(self, model_name: str, alias: str) -> ModelVersion | None:
        model_name = self.validate_model_name(model_name)
        alias = self.validate_alias(alias)
        listing = self._listing_if_exists(model_name)
        holder = None if listing is None else self._alias_holder(listing, alias)
        return None if listing is None or holder is None else self._to_version(model_name, listing[holder])

    @staticmethod
    def _alias_holder(listing: Mapping[str, Row], alias: str) -> str | None:
        for name, row in listing.items():
            if alias in (a.upper() for a in json.loads(row["aliases"] or "[]")):
                return name
        return None

    def find_version(self, model_name: str, version_name: str) -> ModelVersion | None:
        """One ``SHOW VERSIONS LIKE '<V…>'``: the converted name is the version's identifier."""
        model_name = self.validate_model_name(model_name)
        version = self.validate_version_name(version_name)
        if model_name in self._listings:
            row = self._listings[model_name].get(version)
            return None if row is None else self._to_version(model_name, row)
        try:
            rows = self._show_versions(model_name, version)
        except InvalidInputError as err:
            if err.field == "model_name":  # no such model yet
                return None
            raise
        return self._to_version(model_name, rows[0]) if rows else None

    def iter_versions(self, model_name: str, *, page_size: int = 1000) -> Iterator[ModelVersion]:
        """Every version, newest first. ``SHOW VERSIONS`` returns all at once: ``page_size`` is unused."""
        model_name = self.validate_model_name(model_name)
        listing = self._listing_if_exists(model_name) or {}
        versions = [self._to_version(model_name, row) for row in listing.values()]
        versions.sort(key=lambda v: (v.created_at is not None, v.created_at or 0), reverse=True)
        yield from versions

    def get_model_tags(self, model_name: str) -> dict[str, str]:
        """Tags on the model; the provider's own are keyed by name, others by ``DB.SCHEMA.TAG``."""
        from snowflake.ml._internal.utils.sql_identifier import parse_fully_qualified_name

        model_name = self.validate_model_name(model_name)
        result = {}
        for fq_name, value in self._model(model_name).show_tags().items():
            database, schema, tag = parse_fully_qualified_name(fq_name)
            own = f"{database.resolved() if database else ''}.{schema.resolved() if schema else ''}" == self.location
            result[tag.resolved() if own else fq_name] = value
        return result

    # -- writes ----------------------------------------------------------------------
    def _create_version(self, model_name: str, package: ModelPackage) -> ModelVersion:
        version = self.validate_version_name(package.version_name)
        kwargs = self._log_model_arguments(package)
        self._metadata_document({}, metrics=package.metrics, tags=package.tags)  # checks them before logging
        self.log.info(
            "Logging %s version %s (%s) to %s for %s",
            model_name,
            version,
            package.version_name,
            self.location,
            kwargs["target_platforms"],
        )
        logged = self.registry.log_model(package.model, model_name=model_name, version_name=version, **kwargs)
        self._changed(model_name)
        self._model_versions[(model_name, version)] = logged
        # Metrics and tags in one metadata write, instead of log_model(metrics=…) and a second write for tags.
        row = self._version_row(model_name, version)
        document = self._metadata_document(self._metadata(row), metrics=package.metrics, tags=package.tags)
        self._write_metadata(model_name, version, document)
        return self._to_version(model_name, _with_metadata(row, document))

    def _log_model_arguments(self, package: ModelPackage) -> dict[str, Any]:
        """``Registry.log_model`` arguments; every check happens here, before anything is sent."""
        if package.source_uri is not None or package.model is None:
            raise InvalidInputError(
                "model", "Snowflake registers model files (an estimator); MLflow model URIs are not supported"
            )
        if package.sample_input is None or package.sample_input.empty:
            raise InvalidInputError("sample_input", "is required on Snowflake: it defines the model's SQL signature")
        if package.description is not None:
            check_dollar_quoting(package.description, "description")
        unknown = set(package.options) - PACKAGE_OPTIONS
        if unknown:
            raise InvalidInputError(
                "backend_options", f"unknown options {sorted(unknown)}; Snowflake accepts {sorted(PACKAGE_OPTIONS)}"
            )
        platforms = self._target_platforms(package)
        pins = [r for r in package.pip_requirements if not re.match(r"^mlflow\b", r)]
        kwargs: dict[str, Any] = {
            "comment": package.description,
            "sample_input_data": package.sample_input,
            "target_platforms": platforms,
            # Pinned as logged; relax_version=True lets Snowflake's channel substitute x.y.* versions.
            "options": {"relax_version": bool(package.options.get("relax_version", False))},
        }
        if WAREHOUSE in platforms:
            kwargs["conda_dependencies"] = list(package.options.get("conda_dependencies") or pins)
        else:
            kwargs["pip_requirements"] = list(package.options.get("pip_requirements") or pins)
        return kwargs

    @staticmethod
    def _target_platforms(package: ModelPackage) -> list[str]:
        field = "backend_options.target_platforms"
        requested = package.options.get("target_platforms") or [WAREHOUSE]
        if isinstance(requested, str):
            requested = [requested]
        platforms = [str(p).upper() for p in requested]
        unknown = set(platforms) - {WAREHOUSE, SNOWPARK_CONTAINER_SERVICES}
        if unknown:
            raise InvalidInputError(
                field, f"unknown platforms {sorted(unknown)}; use WAREHOUSE and/or {SNOWPARK_CONTAINER_SERVICES}"
            )
        if WAREHOUSE in platforms:
            offending = _warehouse_unservable(package)
            if offending:
                raise InvalidInputError(
                    "model",
                    f"a WAREHOUSE cannot serve {offending}; warehouses run scikit-learn, XGBoost and LightGBM "
                    f"models: set backend_options={{'target_platforms': ['{SNOWPARK_CONTAINER_SERVICES}']}}",
                )
        return platforms

    def _metadata_document(
        self,
        current: Mapping[str, Any],
        *,
        metrics: Mapping[str, float] | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """``current`` metadata with ``metrics`` and ``tags`` merged in (checked for ``$$``)."""
        document = dict(current)
        if metrics:
            merged_metrics = {**(document.get("metrics") or {}), **{str(k): float(v) for k, v in metrics.items()}}
            _check_json_strings(merged_metrics, "metrics")
            document["metrics"] = merged_metrics
            document["snowpark_ml_schema_version"] = _METADATA_SCHEMA_VERSION
        if tags:
            merged_tags = {**(document.get(METADATA_TAGS_KEY) or {}), **{str(k): str(v) for k, v in tags.items()}}
            _check_json_strings(merged_tags, "tags")
            document[METADATA_TAGS_KEY] = merged_tags
        return document

    def _write_metadata(self, model_name: str, version: str, document: Mapping[str, Any]) -> None:
        """One ``ALTER MODEL … MODIFY VERSION … SET METADATA`` (``set_metric`` would re-read per metric)."""
        from snowflake.ml._internal.utils.sql_identifier import SqlIdentifier

        self._ops._model_version_client.set_metadata(
            dict(document),
            database_name=None,
            schema_name=None,
            model_name=SqlIdentifier(model_name),
            version_name=SqlIdentifier(version),
        )
        self._changed(model_name)
        self._written_metadata[(model_name, version)] = dict(document)

    def _update_metadata(
        self,
        model_name: str,
        version: str,
        *,
        metrics: Mapping[str, float] | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> None:
        model_name = self.validate_model_name(model_name)
        version = self._version_id(version)
        # Check before reading: bad input sends nothing.
        self._metadata_document({}, metrics=metrics, tags=tags)
        current = self._written_metadata.get((model_name, version))
        if current is None:
            current = self._metadata(self._version_row(model_name, version))
        self._write_metadata(model_name, version, self._metadata_document(current, metrics=metrics, tags=tags))

    def set_version_tags(self, model_name: str, version: str, tags: Mapping[str, str]) -> None:
        """All tags in one metadata write (read once, merge, write once)."""
        if tags:
            self._update_metadata(model_name, version, tags=tags)

    def log_metrics(self, model_name: str, version: str, metrics: Mapping[str, float]) -> None:
        """All metrics in one metadata write; ``show_metrics()`` sees them as the library's own."""
        if metrics:
            self._update_metadata(model_name, version, metrics=metrics)

    def set_description(self, model_name: str, version: str, description: str) -> None:
        from snowflake.ml._internal.utils.sql_identifier import SqlIdentifier

        model_name = self.validate_model_name(model_name)
        version = self._version_id(version)
        check_dollar_quoting(description, "description")
        self._ops.set_comment(
            comment=description,
            database_name=None,
            schema_name=None,
            model_name=SqlIdentifier(model_name),
            version_name=SqlIdentifier(version),
        )
        self._changed(model_name)

    def set_model_tags(self, model_name: str, tags: Mapping[str, str]) -> None:
        """``Model.set_tag`` per key; the tag objects are created in the registry schema on first use."""
        model_name = self.validate_model_name(model_name)
        prepared = {}
        for key, value in tags.items():
            if not key or '"' in key or len(key) > 255:
                raise InvalidInputError(f"tags.{key}", "tag keys are 1-255 characters without '\"'")
            prepared[key] = check_dollar_quoting(fit_tag_value(key, str(value)), f"tags.{key}")
        model = self._model(model_name)
        for key, value in prepared.items():
            fq_tag = f'{self.location}."{key}"'
            if fq_tag not in self._tags_created:
                self.session.sql(f"CREATE TAG IF NOT EXISTS {fq_tag}").collect()
                self._tags_created.add(fq_tag)
            model.set_tag(fq_tag, value)

    def set_alias(self, model_name: str, alias: str, version: str) -> None:
        """Point ``alias`` at ``version``.

        Snowflake keeps at most one alias per version and each alias on one version: the
        alias is first unset where it is, and an alias ``version`` holds is moved off it
        (logged), so that PromoteVersion's two ``set_alias`` calls swap the holders.
        """
        from snowflake.ml._internal.utils.sql_identifier import SqlIdentifier

        model_name = self.validate_model_name(model_name)
        alias = self.validate_alias(alias)
        version = self._version_id(version)
        listing = self._listing(model_name)
        if version not in listing:
            raise InvalidInputError("version", f"version {version} of {model_name} does not exist in {self.location}")
        holder = self._alias_holder(listing, alias)
        if holder == version:
            return
        ops = self._ops
        ids = {"database_name": None, "schema_name": None, "model_name": SqlIdentifier(model_name)}
        try:
            if holder is not None:
                ops.unset_alias(version_or_alias_name=SqlIdentifier(alias), **ids)
            displaced = [
                a
                for a in json.loads(listing[version]["aliases"] or "[]")
                if a.upper() not in SNOWFLAKE_RESERVED_ALIASES
            ]
            if displaced:
                self.log.info(
                    "Version %s of %s gives up alias %s: Snowflake allows one alias per version",
                    version,
                    model_name,
                    displaced,
                )
                ops.unset_alias(version_or_alias_name=SqlIdentifier(version), **ids)
            ops.set_alias(alias_name=SqlIdentifier(alias), version_name=SqlIdentifier(version), **ids)
        finally:
            self._changed(model_name)

    def delete_alias(self, model_name: str, alias: str) -> None:
        from snowflake.ml._internal.utils.sql_identifier import SqlIdentifier

        model_name = self.validate_model_name(model_name)
        alias = self.validate_alias(alias)
        if self._alias_holder(self._listing(model_name), alias) is None:
            return
        self._ops.unset_alias(
            version_or_alias_name=SqlIdentifier(alias),
            database_name=None,
            schema_name=None,
            model_name=SqlIdentifier(model_name),
        )
        self._changed(model_name)

    def set_default_version(self, model_name: str, version: str) -> None:
        """``Model.default = version`` (``ALTER MODEL … SET DEFAULT_VERSION``)."""
        model_name = self.validate_model_name(model_name)
        version = self._version_id(version)
        self._model(model_name).default = version
        self._changed(model_name)

    def delete_version(self, model_name: str, version: str) -> None:
        model_name = self.validate_model_name(model_name)
        version = self._version_id(version)
        self._model(model_name).delete_version(version)
        self._model_versions.pop((model_name, version), None)
        self._changed(model_name)

    # -- inference -------------------------------------------------------------------
    def load_model(self, model_name: str, version: str, *, allow_unverified: bool = False) -> Predictor:
        """The original estimator, downloaded into the worker (needs the same library versions)."""
        model_name = self.validate_model_name(model_name)
        return self._model_version(model_name, self._version_id(version)).load()

    def predict(self, model_name: str, version: str, data: pd.DataFrame, *, allow_unverified: bool = False) -> Any:
        """Score in the warehouse: ``ModelVersion.run(data, function_name="predict")``."""
        model_name = self.validate_model_name(model_name)
        result = self._model_version(model_name, self._version_id(version)).run(data, function_name=_PREDICT)
        return result.iloc[:, 0].to_numpy() if result.shape[1] == 1 else result

    def input_schema(self, model_name: str, version: str) -> list[tuple[str, str]] | None:
        model_name = self.validate_model_name(model_name)
        functions = self._model_version(model_name, self._version_id(version)).show_functions()
        predict = next((f for f in functions if f["target_method"] == _PREDICT), None)
        if predict is None:
            return None
        return [
            (spec.name, spec.as_snowpark_type().simple_string() if hasattr(spec, "as_snowpark_type") else "object")
            for spec in predict["signature"].inputs
        ]

    def batch_predict(
        self,
        version: ModelVersion,
        source: str,
        destination: str,
        *,
        batch_size: int = 100_000,
        partition_column: str | None = None,
        prediction_column: str = "prediction",
        allow_unverified: bool = False,
    ) -> dict[str, Any]:
        """Score a table or query in the warehouse and save the result as ``destination``.

        The output holds the input's non-feature columns, ``prediction_column``,
        ``MODEL_NAME`` and ``MODEL_VERSION``; no row passes through the worker.
        ``batch_size`` does not apply: the warehouse batches rows itself.
        """
        from snowflake.snowpark.functions import col, lit

        started = time.monotonic()
        model_name = self.validate_model_name(version.model_name)
        version_id = self._version_id(version.version)
        if not isinstance(source, str) or not source.strip():
            raise InvalidInputError("input_path", "give a table name or a SELECT query")
        if is_query(source):
            if ";" in source.strip().rstrip(";"):
                raise InvalidInputError("input_path", "give one SELECT statement")
            source_ref: str | None = None
        else:
            source_ref = qualified_name(source, "input_path")
        destination = qualified_name(destination, "output_path")
        prediction = validate_snowflake_identifier(prediction_column, "prediction_column")
        partition = (
            validate_snowflake_identifier(partition_column, "partition_column")
            if partition_column is not None
            else None
        )
        mode = self._settings["batch_write_mode"]
        mv = self._model_version(model_name, version_id)
        frame: SnowparkDataFrame = (
            self.session.table(source_ref) if source_ref else self.session.sql(source.strip().rstrip(";"))
        )
        scored = mv.run(frame, function_name=_PREDICT, partition_column=partition)
        signature = next(f for f in mv.show_functions() if f["target_method"] == _PREDICT)["signature"]
        # Column names as Snowpark spells them: TENURE, or "tenure" when case-sensitive.
        features = {spec.name.upper() for spec in signature.inputs}
        inputs = list(frame.columns)
        outputs = [c for c in scored.columns if c not in inputs]
        keep = [c for c in inputs if c.strip('"').upper() not in features and c != partition]
        if partition is not None:
            keep.append(partition)
        renamed = [col(outputs[0]).alias(prediction)] if len(outputs) == 1 else [col(c) for c in outputs]
        result = scored.select(
            *[col(c) for c in keep],
            *renamed,
            lit(model_name).alias("MODEL_NAME"),
            lit(version_id).alias("MODEL_VERSION"),
        )
        result.write.save_as_table(destination, mode=mode)
        rows = self.session.table(destination).count()
        summary = {
            "rows": int(rows),
            "output": destination,
            "seconds": round(time.monotonic() - started, 3),
            "mode": mode,
        }
        self.log.info("Wrote %d predictions of %s version %s to %s", rows, model_name, version_id, destination)
        return summary

    # -- artifacts -------------------------------------------------------------------
    def _artifact_location(self, model_name: str, version: str, artifact_path: str) -> tuple[str, str]:
        """``(stage directory, file name)`` for a file stored with a version."""
        if (
            not isinstance(artifact_path, str)
            or not _ARTIFACT_PATH.match(artifact_path)
            or ".." in artifact_path.split("/")
        ):
            raise InvalidInputError(
                "artifact_path", f"{artifact_path!r} is not a relative path of letters, digits, '_', '-', '.' and '/'"
            )
        parent, _, name = artifact_path.rpartition("/")
        directory = f"@{self.location}.{ARTIFACT_STAGE}/{model_name}/{version}" + (f"/{parent}" if parent else "")
        return directory, name

    def upload_artifact(self, model_name: str, version: str, local_path: str, artifact_path: str) -> str:
        """PUT ``local_path`` to ``@<db>.<schema>.MODEL_ARTIFACTS/<MODEL>/<VERSION>/<artifact_path>``."""
        model_name = self.validate_model_name(model_name)
        version = self._version_id(version)
        directory, name = self._artifact_location(model_name, version, artifact_path)
        if not os.path.isfile(local_path):
            raise InvalidInputError("local_path", f"file {local_path!r} does not exist")
        if not self._stage_ready:
            self.session.sql(
                f"CREATE STAGE IF NOT EXISTS {self.location}.{ARTIFACT_STAGE} "
                "COMMENT = 'Files stored with model versions by airflow-registry-provider'"
            ).collect()
            self._stage_ready = True
        with tempfile.TemporaryDirectory() as tmp:
            staged = os.path.join(tmp, name)  # PUT keeps the local file name
            shutil.copyfile(local_path, staged)
            self.session.file.put(staged, directory, auto_compress=False, overwrite=True)
        return f"{directory}/{name}"

    def download_artifact(self, model_name: str, version: str, artifact_path: str, dst_dir: str) -> str:
        """GET a file stored with ``upload_artifact`` to ``dst_dir/<artifact_path>``."""
        model_name = self.validate_model_name(model_name)
        version = self._version_id(version)
        directory, name = self._artifact_location(model_name, version, artifact_path)
        target = os.path.join(dst_dir, os.path.dirname(artifact_path))
        os.makedirs(target, exist_ok=True)
        fetched = self.session.file.get(f"{directory}/{name}", target)
        if not fetched:
            raise InvalidInputError(
                "artifact_path", f"no file {artifact_path!r} is stored with version {version} of {model_name}"
            )
        return os.path.join(target, name)

    # -- lineage ---------------------------------------------------------------------
    def lineage_dataset(self, model_name: str, version: str) -> tuple[str, str]:
        """``snowflake-ml://<account>``, ``<DB>.<SCHEMA>.<MODEL>/<VERSION>``.

        Not ``snowflake://``: that scheme's Assets are tables (the Snowflake provider
        normalizes them as ``database/schema/table``).
        """
        account = str(self._settings["account"]).lower() or "account"
        return f"snowflake-ml://{account}", f"{self.location}.{self.validate_model_name(model_name)}/{version}"

    # -- UI --------------------------------------------------------------------------
    def version_url(self, model_name: str, version: str) -> str | None:
        """The Snowsight page of the version, when the account identifier says where it lives."""
        settings = self._settings
        account = str(settings["account"]).lower()
        if "-" in account and "." not in account:  # <org>-<account_name>
            org, _, name = account.partition("-")
            base = f"https://app.snowflake.com/{org}/{name}"
        elif account and (settings["region"] or "." in account):  # <locator>[.<region>[.<cloud>]]
            locator, _, region = account.partition(".")
            base = f"https://app.snowflake.com/{region or str(settings['region']).lower()}/{locator}"
        else:
            return None
        database, schema = settings["database"], settings["schema"]
        return (
            f"{base}/#/data/databases/{database}/schemas/{schema}/model/"
            f"{self.validate_model_name(model_name)}/version/{self._version_id(version)}"
        )

    # -- grants ----------------------------------------------------------------------
    # Statements come from governance/snowflake_sql.py: every identifier validated and
    # quoted, and every statement built before the first one is sent.
    def _collect(self, statement: str) -> list[dict[str, Any]]:
        return [row.as_dict() for row in self.session.sql(statement).collect()]

    def _grants_from(self, statement: str) -> list[Grant]:
        grants, skipped = snowflake_sql.grants_from_rows(self._collect(statement))
        for description in skipped:
            self.log.info("Not managed by this provider (left as is): %s", description)
        return grants

    def _apply_statements(self, statements: Sequence[str], grant: Sequence[Grant]) -> None:
        """Run GRANT/REVOKE statements once every granted role is known to exist."""
        if not statements:
            return
        roles = {str(row["name"]) for row in self._collect("SHOW ROLES")}
        missing = sorted({g.grantee for g in grant} - roles)
        if missing:
            raise InvalidInputError(
                "grants", f"role(s) {', '.join(missing)} do not exist or are not visible to the connection's role"
            )
        for statement in statements:
            self.log.info("%s", statement)
            self.session.sql(statement).collect()

    def list_grants(self, model_name: str) -> list[Grant]:
        """``SHOW GRANTS ON MODEL``: privileges granted to account roles."""
        settings, model_name = self._settings, self.validate_model_name(model_name)
        return self._grants_from(snowflake_sql.show_grants_sql(settings["database"], settings["schema"], model_name))

    def apply_grants(self, model_name: str, grant: Sequence[Grant], revoke: Sequence[Grant]) -> None:
        settings, model_name = self._settings, self.validate_model_name(model_name)
        target = snowflake_sql.model_target(settings["database"], settings["schema"], model_name)
        self._apply_statements(snowflake_sql.grant_statements(target, grant, revoke), grant)

    def list_future_grants(self) -> list[Grant]:
        """``SHOW FUTURE GRANTS IN SCHEMA`` of the registry schema, for models."""
        settings = self._settings
        return self._grants_from(snowflake_sql.show_future_grants_sql(settings["database"], settings["schema"]))

    def apply_future_grants(self, grant: Sequence[Grant], revoke: Sequence[Grant]) -> None:
        """``GRANT <privilege> ON FUTURE MODELS IN SCHEMA`` of the registry schema."""
        settings = self._settings
        target = snowflake_sql.future_target(settings["database"], settings["schema"])
        self._apply_statements(snowflake_sql.grant_statements(target, grant, revoke, future=True), grant)

    def get_default_version(self, model_name: str) -> str | None:
        listing = self._listing_if_exists(self.validate_model_name(model_name)) or {}
        return next((name for name, row in listing.items() if str(row["is_default_version"]).lower() == "true"), None)


def _with_metadata(row: Row, document: Mapping[str, Any]) -> Row:
    from snowflake.snowpark import Row as SnowparkRow

    values = row.as_dict()
    values["metadata"] = json.dumps(document)
    return SnowparkRow(**values)


def _warehouse_unservable(package: ModelPackage) -> str | None:
    """What in the package a warehouse cannot run, or None."""
    if package.flavor not in WAREHOUSE_FLAVORS:
        return f"{package.flavor} models"
    estimator = package.model
    params = estimator.get_params(deep=True) if hasattr(estimator, "get_params") else {}
    for part in [estimator, *params.values()]:
        module = type(part).__module__.split(".")[0]
        if hasattr(part, "fit") and module not in _WAREHOUSE_MODULES:
            return f"{type(part).__module__}.{type(part).__name__} (custom estimator or transformer)"
    return None


__all__ = ["SnowflakeRegistryHook", "check_dollar_quoting"]
