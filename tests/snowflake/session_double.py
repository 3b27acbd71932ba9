"""A scripted Snowflake account behind a real Snowpark ``Session``, as strict as Snowflake's docs.

snowflake-ml-python's ``Registry``/``Model``/``ModelVersion`` run unmodified on top of
it: the double replaces only the connector connection under Snowpark (``connect`` in
Snowpark's server connection module, see ``connector.py``) and Snowpark's file transfers
(``FileOperation.put``/``get``). Every round trip is recorded in :attr:`SnowflakeDouble.log`
(SQL statements, describe-only requests, file PUT/GET), so tests can assert the SQL an
operation sends and ``bench/`` can count round trips.

State: databases, schemas, models with versions (comment, metadata, aliases, default
version, model spec and functions taken from the files the library uploaded), model
tags, stages, tables, and access control (``access.py``): roles and their hierarchy,
owners, grants, future grants, MANAGE GRANTS. The session's role is
:attr:`SnowflakeDouble.current_role` (``ML_ENGINEER``, which may use ``ML.REGISTRY`` and
create models, stages, tags and tables there). Inference (``MODEL(...)!PREDICT``) runs
the uploaded model locally on the rows of the input table.

Strict where Snowflake is: a role without privileges cannot see or alter an object;
every ``ALTER MODEL`` needs OWNERSHIP; future grants need MANAGE GRANTS; unquoted
reserved keywords are syntax errors; ``$$`` literals end at the first ``$$``;
``SHOW … LIKE`` is case-insensitive with ``_``/``%`` wildcards; ``is_default_version``
is a BOOLEAN; metadata is ``{}`` when unset; ``CREATE OR REPLACE`` drops grants unless
``COPY GRANTS``. Statements it has no script for fail loudly, so a test notices a new
statement instead of the double inventing an answer.

Use it inside :meth:`SnowflakeDouble.installed`: any Snowpark session opened there (by
``SnowflakeHook.get_snowpark_session()`` or ``Session.builder``) talks to the double.
"""

from __future__ import annotations

import copy
import hashlib
import io
import itertools
import json
import pickle
import re
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
import pandas as pd
import yaml

from tests.snowflake.access import OWNERSHIP, AccessControl, AccessDenied
from tests.snowflake.connector import DoubleSQLError, FakeConnection, Result
from tests.snowflake.grant_scripts import GrantScripts
from tests.snowflake.select_eval import Relation, UnsupportedSQL, evaluate
from tests.snowflake.sqlnames import DOLLARS as _DOLLARS
from tests.snowflake.sqlnames import NAME as _NAME
from tests.snowflake.sqlnames import PART as _PART
from tests.snowflake.sqlnames import SYNTAX_ERROR as _SYNTAX
from tests.snowflake.sqlnames import like as _like
from tests.snowflake.sqlnames import split_name, unquote

_TEXT, _FIXED, _TIMESTAMP, _BOOLEAN = "TEXT", "FIXED", "TIMESTAMP_LTZ", "BOOLEAN"
_ALREADY_EXISTS = 2002
_FAULT = 604  # "statement reached its timeout": transient, not translated by the hook
#: The role the connection's session runs as, and the roles of the default account.
ENGINEER = "ML_ENGINEER"
SYSTEM_ALIASES = ("DEFAULT", "FIRST", "LAST")


@dataclass(frozen=True)
class RoundTrip:
    """One request the client sent: ``kind`` is ``query``, ``describe``, ``put`` or ``get``."""

    kind: str
    sql: str


def _status(message: str = "Statement executed successfully.") -> Result:
    return Result([("status", _TEXT)], [(message,)])


@dataclass
class VersionState:
    name: str
    files: dict[str, bytes]
    comment: str | None = None
    metadata: str = "{}"
    aliases: list[str] = field(default_factory=list)
    created_on: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def model_spec(self) -> dict[str, Any]:
        return yaml.safe_load(self.files["model/model.yaml"])

    @property
    def manifest(self) -> dict[str, Any]:
        return yaml.safe_load(self.files["MANIFEST.yml"])

    @property
    def runnable_in(self) -> list[str]:
        platforms = self.manifest.get("target_platforms") or self.model_spec.get("target_platforms")
        return list(platforms or ["WAREHOUSE", "SNOWPARK_CONTAINER_SERVICES"])


@dataclass
class ModelState:
    name: str
    versions: dict[str, VersionState] = field(default_factory=dict)
    comment: str | None = None
    default_version: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    created_on: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass
class TableState:
    columns: list[tuple[str, str]]
    data: pd.DataFrame


@dataclass
class SchemaState:
    models: dict[str, ModelState] = field(default_factory=dict)
    tables: dict[str, TableState] = field(default_factory=dict)
    stages: dict[str, dict[str, bytes]] = field(default_factory=dict)
    tags: set[str] = field(default_factory=set)


class SnowflakeDouble(GrantScripts):
    """The scripted account. ``database``/``schema`` exist from the start, usable by ``ML_ENGINEER``."""

    def __init__(self, database: str = "ML", schema: str = "REGISTRY", *, account: str = "xy12345") -> None:
        self.account = account
        self.current_database = database
        self.current_schema = schema
        self.current_role = ENGINEER
        self.databases: dict[str, dict[str, SchemaState]] = {database: {schema: SchemaState(), "PUBLIC": SchemaState()}}
        self.acl = default_access(account, database, [schema, "PUBLIC"])
        self.log: list[RoundTrip] = []
        #: What ``SYSTEM$ML_PLATFORM_CAPABILITIES()`` answers.
        self.platform_capabilities: dict[str, Any] = {}
        #: Package versions ``information_schema.packages`` knows: the worker's own, by default.
        self.packages: dict[str, list[str]] = {
            name: [_installed(name)]
            for name in ("snowflake-ml-python", "scikit-learn", "numpy", "scipy", "pandas", "cloudpickle")
        }
        self.session_parameters: dict[str, str] = {"QUOTED_IDENTIFIERS_IGNORE_CASE": "false", "QUERY_TAG": ""}
        #: Armed faults: [statement pattern, matches to let through first, how many more times it fails].
        self.faults: list[list[Any]] = []
        self._seq = itertools.count(1)
        self._handlers: list[tuple[re.Pattern[str], Callable[..., Result]]] = [
            (re.compile(pattern, re.IGNORECASE | re.DOTALL), handler) for pattern, handler in self._scripts()
        ]

    # -- inspection helpers used by tests ---------------------------------------------
    def statements(self, *kinds: str) -> list[str]:
        """Recorded SQL, in order; by default every kind of round trip."""
        return [rt.sql for rt in self.log if not kinds or rt.kind in kinds]

    def writes(self) -> list[str]:
        """Statements that change something in the account (DDL, DML, PUT).

        ``ALTER SESSION`` is left out: it changes the connection's own settings (the
        Snowflake provider sets the query tag on every new session).
        """
        reads = re.compile(r"^\s*(SHOW|SELECT|WITH|DESC|DESCRIBE|LIST|LS|GET|ALTER SESSION)\b", re.IGNORECASE)
        return [rt.sql for rt in self.log if rt.kind != "describe" and not reads.match(rt.sql)]

    def reset_log(self) -> None:
        self.log.clear()

    def fail(self, pattern: str, *, times: int = 1, after: int = 0) -> None:
        """Fail ``times`` statements matching ``pattern`` as a lost connection would (transient), after ``after``."""
        self.faults.append([re.compile(pattern, re.IGNORECASE), after, times])

    def snapshot(self) -> dict[str, Any]:
        """Everything the account holds (for fixtures that build a state once)."""
        return copy.deepcopy({"databases": self.databases, "acl": self.acl})

    def restore(self, state: dict[str, Any]) -> None:
        state = copy.deepcopy(state)
        self.databases, self.acl = state["databases"], state["acl"]

    def schema_state(self, database: str | None = None, schema: str | None = None) -> SchemaState:
        return self.databases[database or self.current_database][schema or self.current_schema]

    def model(self, name: str, database: str | None = None, schema: str | None = None) -> ModelState:
        return self.schema_state(database, schema).models[name]

    def model_key(self, name: str, database: str | None = None, schema: str | None = None) -> tuple[str, str]:
        return ("MODEL", f"{database or self.current_database}.{schema or self.current_schema}.{name}")

    def model_grants(self, name: str) -> set[tuple[str, str]]:
        """``{(privilege, role)}`` on a model of the current schema."""
        return self.acl.grants.setdefault(self.model_key(name), set())

    def add_table(
        self,
        name: str,
        data: pd.DataFrame,
        database: str | None = None,
        schema: str | None = None,
        *,
        owner: str | None = None,
    ) -> None:
        """Create a table holding ``data`` (column names upper-cased), owned by ``owner`` (the session's role)."""
        frame = data.copy()
        frame.columns = [str(c).upper() for c in frame.columns]
        columns = [(c, _sql_type(frame[c])) for c in frame.columns]
        database, schema = database or self.current_database, schema or self.current_schema
        self.schema_state(database, schema).tables[name.upper()] = TableState(columns, frame)
        self.acl.create(("TABLE", f"{database}.{schema}.{name.upper()}"), owner or self.current_role)

    # -- the fake connector ---------------------------------------------------------------
    @contextmanager
    def installed(self) -> Iterator[SnowflakeDouble]:
        """Route Snowpark's connector and file transfers to this double; reset the library's caches."""
        from snowflake.ml._internal import env_utils, platform_capabilities
        from snowflake.snowpark import FileOperation

        double = self

        def put(op: Any, local_file_name: str, stage_location: str, **kwargs: Any) -> list[Any]:
            return double._put(local_file_name, stage_location)

        def get(op: Any, stage_location: str, target_directory: str, **kwargs: Any) -> list[Any]:
            return double._get(stage_location, target_directory)

        with ExitStack() as stack:
            stack.enter_context(
                mock.patch(
                    "snowflake.snowpark._internal.server_connection.connect",
                    side_effect=lambda **_: FakeConnection(double),
                )
            )
            stack.enter_context(mock.patch.object(FileOperation, "put", put))
            stack.enter_context(mock.patch.object(FileOperation, "get", get))
            stack.enter_context(mock.patch.object(platform_capabilities.PlatformCapabilities, "_instance", None))
            stack.enter_context(mock.patch.dict(env_utils._SNOWFLAKE_INFO_SCHEMA_PACKAGE_CACHE, clear=True))
            # Snowpark closes every session it opened from an atexit hook, which logs after
            # pytest has closed its streams: the double closes its sessions when uninstalled.
            stack.enter_context(mock.patch("snowflake.snowpark.session.atexit"))
            stack.callback(self._close_sessions)
            yield self

    def open_sessions(self) -> list[Any]:
        """The Snowpark sessions still open on this double."""
        from snowflake.snowpark.session import _get_active_sessions

        return [
            session
            for session in list(_get_active_sessions(require_at_least_one=False))
            if isinstance(getattr(session._conn, "_conn", None), FakeConnection) and session._conn._conn.double is self
        ]

    def _close_sessions(self) -> None:
        for session in self.open_sessions():
            session.close()

    # -- dispatch ---------------------------------------------------------------------------
    def execute(self, sql: str, *, describe: bool = False) -> Result:
        self.log.append(RoundTrip("describe" if describe else "query", sql))
        text = " ".join(sql.split())
        for fault in self.faults:
            if fault[2] > 0 and fault[0].search(text):
                if fault[1] > 0:
                    fault[1] -= 1
                    continue
                fault[2] -= 1
                raise DoubleSQLError("Injected fault: the connection was reset", errno=_FAULT)
        for pattern, handler in self._handlers:
            match = pattern.match(text)
            if match:
                try:
                    return handler(match, describe=describe)
                except AccessDenied as err:
                    raise DoubleSQLError(str(err), errno=err.errno) from None
        raise DoubleSQLError(f"session double has no script for: {text[:300]}", errno=_SYNTAX)

    def _scripts(self) -> list[tuple[str, Callable[..., Result]]]:
        return [
            *self._grant_scripts(),
            (r"^ALTER SESSION SET (\w+) = (.*)$", self._alter_session),
            (r"^select system\$cancel_all_queries", lambda m, **_: _status()),
            (r"^SELECT CURRENT_(DATABASE|SCHEMA|WAREHOUSE|ROLE|ACCOUNT|USER)\(\)", self._current),
            (r"^SHOW PARAMETERS LIKE '(\w+)'(?: IN SESSION)?$", self._show_parameter),
            (r"^SHOW DATABASES LIKE '([^']*)';?$", self._show_databases),
            (rf"^SHOW SCHEMAS LIKE '([^']*)' IN DATABASE ({_NAME});?$", self._show_schemas),
            (rf"^CREATE SCHEMA IF NOT EXISTS ({_NAME})$", self._create_schema),
            (r"^SELECT SYSTEM\$ML_PLATFORM_CAPABILITIES\(\) AS FEATURES;?$", self._capabilities),
            (r"^SELECT PACKAGE_NAME, VERSION FROM information_schema.packages WHERE \((.*?)\)", self._packages),
            (rf"^SHOW MODELS(?: LIKE '([^']*)')? IN SCHEMA ({_NAME})$", self._show_models),
            (rf"^SHOW VERSIONS(?: LIKE '([^']*)')? IN MODEL ({_NAME})$", self._show_versions),
            (rf"^SHOW FUNCTIONS IN MODEL ({_NAME}) VERSION ({_PART})$", self._show_functions),
            (rf"^CREATE SCOPED TEMPORARY STAGE ({_NAME})$", self._create_stage),
            (rf"^CREATE STAGE IF NOT EXISTS ({_NAME})(?: |$)", self._create_stage),
            (rf"^CREATE MODEL ({_NAME}) WITH VERSION ({_PART}) FROM @({_NAME})/(\S+)$", self._create_model),
            (rf"^ALTER MODEL ({_NAME}) ADD VERSION ({_PART}) FROM @({_NAME})/(\S+)$", self._add_version),
            (
                rf"^CREATE MODEL ({_NAME}) WITH VERSION ({_PART}) FROM MODEL ({_NAME}) VERSION ({_PART})$",
                self._create_model_from_version,
            ),
            (
                rf"^ALTER MODEL ({_NAME}) ADD VERSION ({_PART}) FROM MODEL ({_NAME}) VERSION ({_PART})$",
                self._add_version_from_version,
            ),
            (rf"^ALTER MODEL ({_NAME}) MODIFY VERSION ({_PART}) SET COMMENT={_DOLLARS}$", self._version_comment),
            (rf"^ALTER MODEL ({_NAME}) MODIFY VERSION ({_PART}) SET METADATA={_DOLLARS}$", self._version_metadata),
            (rf"^ALTER MODEL ({_NAME}) VERSION ({_PART}) SET ALIAS = ({_PART})$", self._set_alias),
            (rf"^ALTER MODEL ({_NAME}) VERSION ({_PART}) UNSET ALIAS$", self._unset_alias),
            (rf"^ALTER MODEL ({_NAME}) SET DEFAULT_VERSION = ({_PART})$", self._set_default),
            (rf"^ALTER MODEL ({_NAME}) DROP VERSION ({_PART})$", self._drop_version),
            (rf"^DROP MODEL ({_NAME})$", self._drop_model),
            (rf"^COMMENT ON MODEL ({_NAME}) IS {_DOLLARS}$", self._model_comment),
            (rf"^CREATE TAG IF NOT EXISTS ({_NAME})(?: |$)", self._create_tag),
            (rf"^ALTER MODEL ({_NAME}) SET TAG ({_NAME}) = {_DOLLARS}$", self._set_tag),
            (rf"^ALTER MODEL ({_NAME}) UNSET TAG ({_NAME})$", self._unset_tag),
            (
                rf"^SELECT TAG_DATABASE, TAG_SCHEMA, TAG_NAME, TAG_VALUE FROM TABLE\(({_PART})\.INFORMATION_SCHEMA"
                rf"\.TAG_REFERENCES\({_DOLLARS}, 'MODULE'\)\)$",
                self._tag_references,
            ),
            (r"^CREATE (?:SCOPED )?TEMP(?:ORARY)? STAGE /\*.*?\*/ identifier\('([^']+)'\)", self._create_stage),
            (r"^CREATE (?:SCOPED )?TEMP(?:ORARY)? FILE FORMAT identifier\('([^']+)'\)", lambda m, **_: _status()),
            (r"^SELECT COLUMN_NAME, TYPE FROM table\(infer_schema\(location=>'@([^']+)'", self._infer_schema),
            (
                r"^CREATE (?:(?:SCOPED )?TEMP(?:ORARY)? |TRANSIENT )?TABLE IF NOT EXISTS identifier\('([^']+)'\) "
                r"\((.*?)\)\s*/\*",
                self._create_table,
            ),
            (r"^DROP TABLE IF EXISTS identifier\('([^']+)'\)", self._drop_table),
            (r"^ALTER TABLE identifier\('([^']+)'\) RENAME TO identifier\('([^']+)'\)", self._rename_table),
            (
                r"^COPY INTO identifier\('([^']+)'\) /\*.*?\*/ \(.*?\) FROM \(SELECT .*? FROM '@([^']+)'\)",
                self._copy_into,
            ),
            (rf"^SELECT SYSTEM\$GET_TAG\({_DOLLARS}, {_DOLLARS}, 'MODULE'\) AS TAG_VALUE$", self._get_tag),
            (
                rf"^CREATE (OR REPLACE )?(?:(?:TEMP|TEMPORARY|TRANSIENT) )?TABLE (IF NOT EXISTS )?({_NAME}) ?"
                r"\((.*?)\)( COPY GRANTS)? AS (SELECT .*)$",
                self._create_table_as,
            ),
            (rf"^CREATE TABLE ({_NAME}) IF NOT EXISTS \((.*)\)$", self._create_empty_table),
            (rf"^show tables like '([^']*)'(?: in (?:schema )?({_NAME}))?$", self._show_tables),
            (rf"^INSERT INTO ({_NAME}) ?(?:\((.*?)\) )?(SELECT .*)$", self._insert),
            (r"^List '(snow://model/[^']+)'$", self._list_model_files),
            (r"^(?:SELECT|WITH)\b", self._select),
        ]

    # -- name resolution and access ---------------------------------------------------------------
    def _resolve(self, name: str) -> tuple[str, str, str]:
        parts = split_name(name)
        while len(parts) < 3:
            parts.insert(0, self.current_schema if len(parts) == 1 else self.current_database)
        return parts[0], parts[1], parts[2]

    def _schema(self, database: str, schema: str) -> SchemaState:
        """A schema the session's role may use (USAGE on it and its database)."""
        role = self.current_role
        usable = self.acl.holds(role, ("DATABASE", database), "USAGE") and self.acl.holds(
            role, ("SCHEMA", f"{database}.{schema}"), "USAGE"
        )
        if not usable or database not in self.databases or schema not in self.databases[database]:
            raise DoubleSQLError(f"Schema '{database}.{schema}' does not exist or not authorized.")
        return self.databases[database][schema]

    def _require(self, kind: str, name: str, *privileges: str) -> None:
        self.acl.require(self.current_role, (kind, name), *privileges)

    def _create_in_schema(self, kind: str, database: str, schema: str) -> SchemaState:
        """The schema an object is created in, after checking ``CREATE <kind>`` on it."""
        state = self._schema(database, schema)
        self._require("SCHEMA", f"{database}.{schema}", f"CREATE {kind}")
        return state

    def _model_state(self, name: str, *privileges: str) -> ModelState:
        """A model the session's role can see (and, with ``privileges``, holds one of them on)."""
        database, schema, model = self._resolve(name)
        state = self._schema(database, schema).models.get(model)
        key = ("MODEL", f"{database}.{schema}.{model}")
        if state is None or not self.acl.visible(self.current_role, key):
            raise DoubleSQLError(f"Model '{database}.{schema}.{model}' does not exist or not authorized.")
        if privileges:
            self.acl.require(self.current_role, key, *privileges)
        return state

    def _owned_model(self, name: str) -> ModelState:
        """``ALTER MODEL`` and friends: OWNERSHIP."""
        return self._model_state(name, OWNERSHIP)

    def _version_state(self, model: ModelState, ref: str) -> VersionState:
        name = unquote(ref)
        for version in model.versions.values():
            if name in version.aliases:
                return version
        if name == "DEFAULT" and model.default_version:
            return model.versions[model.default_version]
        try:
            return model.versions[name]
        except KeyError:
            raise DoubleSQLError(f"Model '{model.name}' version '{name}' does not exist.") from None

    # -- handlers ---------------------------------------------------------------------------------
    def _current(self, m: re.Match[str], **_: Any) -> Result:
        values = {
            "DATABASE": self.current_database,
            "SCHEMA": self.current_schema,
            "ACCOUNT": self.account,
            "ROLE": self.current_role,
            "WAREHOUSE": "COMPUTE_WH",
            "USER": "AIRFLOW",
        }
        return Result([(f"CURRENT_{m.group(1).upper()}()", _TEXT)], [(values.get(m.group(1).upper()),)])

    def _alter_session(self, m: re.Match[str], describe: bool = False, **_: Any) -> Result:
        if not describe:
            self.session_parameters[m.group(1).upper()] = m.group(2).strip("'")
        return _status()

    def _show_parameter(self, m: re.Match[str], **_: Any) -> Result:
        name = m.group(1).upper()
        return Result([("key", _TEXT), ("value", _TEXT)], [(name, self.session_parameters.get(name, ""))])

    def _show_databases(self, m: re.Match[str], **_: Any) -> Result:
        names = [
            d for d in self.databases if _like(d, m.group(1)) and self.acl.visible(self.current_role, ("DATABASE", d))
        ]
        return Result([("created_on", _TIMESTAMP), ("name", _TEXT)], [(_now(), n) for n in names])

    def _show_schemas(self, m: re.Match[str], **_: Any) -> Result:
        (database,) = split_name(m.group(2))
        if database not in self.databases or not self.acl.visible(self.current_role, ("DATABASE", database)):
            raise DoubleSQLError(f"Database '{database}' does not exist or not authorized.")
        names = [
            s
            for s in self.databases[database]
            if _like(s, m.group(1)) and self.acl.visible(self.current_role, ("SCHEMA", f"{database}.{s}"))
        ]
        rows = [(_now(), n, self.acl.owner(("SCHEMA", f"{database}.{n}"))) for n in names]
        return Result([("created_on", _TIMESTAMP), ("name", _TEXT), ("owner", _TEXT)], rows)

    def _create_schema(self, m: re.Match[str], describe: bool = False, **_: Any) -> Result:
        database, schema = split_name(m.group(1))[-2:]
        if database not in self.databases or not self.acl.visible(self.current_role, ("DATABASE", database)):
            raise DoubleSQLError(f"Database '{database}' does not exist or not authorized.")
        self._require("DATABASE", database, "CREATE SCHEMA")
        if not describe and schema not in self.databases[database]:
            self.databases[database][schema] = SchemaState()
            self.acl.create(("SCHEMA", f"{database}.{schema}"), self.current_role)
        return _status(f"{schema} already exists, statement succeeded.")

    def _capabilities(self, m: re.Match[str], **_: Any) -> Result:
        return Result([("FEATURES", _TEXT)], [(json.dumps(self.platform_capabilities),)])

    def _packages(self, m: re.Match[str], **_: Any) -> Result:
        wanted = re.findall(r"package_name = '([^']+)'", m.group(1))
        rows = [(name, v) for name in wanted for v in self.packages.get(name, [])]
        return Result([("PACKAGE_NAME", _TEXT), ("VERSION", _TEXT)], rows)

    def _show_models(self, m: re.Match[str], **_: Any) -> Result:
        database, schema = split_name(m.group(2))[-2:]
        state = self._schema(database, schema)
        columns = [
            ("created_on", _TIMESTAMP),
            ("name", _TEXT),
            ("model_type", _TEXT),
            ("database_name", _TEXT),
            ("schema_name", _TEXT),
            ("comment", _TEXT),
            ("owner", _TEXT),
            ("default_version_name", _TEXT),
            ("versions", _TEXT),
            ("aliases", _TEXT),
        ]
        rows = []
        for model in state.models.values():
            key = ("MODEL", f"{database}.{schema}.{model.name}")
            if m.group(1) is not None and not _like(model.name, m.group(1)):
                continue
            if not self.acl.visible(self.current_role, key):
                continue
            aliases = {a: v.name for v in model.versions.values() for a in v.aliases}
            rows.append(
                (
                    model.created_on,
                    model.name,
                    "USER_MODEL",
                    database,
                    schema,
                    model.comment,
                    self.acl.owner(key),
                    model.default_version,
                    json.dumps(list(model.versions)),
                    json.dumps(aliases),
                )
            )
        return Result(columns, rows)

    def _show_versions(self, m: re.Match[str], **_: Any) -> Result:
        model = self._model_state(m.group(2))
        database, schema, _name = self._resolve(m.group(2))
        columns = [
            ("created_on", _TIMESTAMP),
            ("name", _TEXT),
            ("aliases", _TEXT),
            ("comment", _TEXT),
            ("database_name", _TEXT),
            ("schema_name", _TEXT),
            ("model_name", _TEXT),
            ("is_default_version", _BOOLEAN),
            ("functions", _TEXT),
            ("metadata", _TEXT),
            ("user_data", _TEXT),
            ("model_spec", _TEXT),
            ("runnable_in", _TEXT),
            ("inference_services", _TEXT),
        ]
        rows = []
        versions = list(model.versions.values())
        for version in versions:
            if m.group(1) is not None and not _like(version.name, m.group(1)):
                continue
            system = ["FIRST"] if version is versions[0] else []
            if version is versions[-1]:
                system.append("LAST")
            if model.default_version == version.name:
                system.append("DEFAULT")
            rows.append(
                (
                    version.created_on,
                    version.name,
                    json.dumps(system + version.aliases),
                    version.comment,
                    database,
                    schema,
                    model.name,
                    model.default_version == version.name,
                    json.dumps([f["name"] for f in self._functions(version)]),
                    version.metadata or "{}",
                    "{}",
                    yaml.safe_dump(version.model_spec),
                    json.dumps(version.runnable_in),
                    "[]",
                )
            )
        return Result(columns, rows)

    def _functions(self, version: VersionState) -> list[dict[str, Any]]:
        functions = []
        for method in version.manifest.get("methods", []):
            outputs = method.get("outputs", [])
            is_table = method.get("type") == "TABLE_FUNCTION"
            # A FUNCTION returns one OBJECT; a TABLE_FUNCTION names its output columns.
            returns = "TABLE (" + ", ".join(f"{o['name']} {o['type']}" for o in outputs) + ")" if is_table else "OBJECT"
            arguments = ", ".join(str(a["type"]) for a in method.get("inputs", []))
            functions.append({"name": method["name"].upper(), "return_type": returns, "arguments": arguments})
        return functions

    def _show_functions(self, m: re.Match[str], **_: Any) -> Result:
        model = self._model_state(m.group(1), "USAGE")
        version = self._version_state(model, m.group(2))
        columns = [("name", _TEXT), ("arguments", _TEXT), ("return_type", _TEXT), ("language", _TEXT)]
        rows = [(f["name"], f["arguments"], f["return_type"], "PYTHON") for f in self._functions(version)]
        return Result(columns, rows)

    def _create_stage(self, m: re.Match[str], describe: bool = False, **_: Any) -> Result:
        database, schema, stage = self._resolve(m.group(1))
        state = self._create_in_schema("STAGE", database, schema)
        if not describe and stage not in state.stages:
            state.stages[stage] = {}
            self.acl.create(("STAGE", f"{database}.{schema}.{stage}"), self.current_role)
        return _status(f"Stage area {stage} successfully created.")

    def _stage_files(self, stage_name: str, prefix: str, *privileges: str) -> dict[str, bytes]:
        """Files under ``prefix`` of a stage the role holds one of ``privileges`` on."""
        database, schema, stage = self._resolve(stage_name)
        files = self._schema(database, schema).stages.get(stage)
        if files is None:
            raise DoubleSQLError(f"Stage '{database}.{schema}.{stage}' does not exist or not authorized.")
        self._require("STAGE", f"{database}.{schema}.{stage}", *privileges)
        prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        return {path[len(prefix) :]: data for path, data in files.items() if path.startswith(prefix)}

    def _new_version(self, model: ModelState, version_ref: str, stage: str, path: str) -> None:
        name = unquote(version_ref)
        if name in model.versions:
            raise DoubleSQLError(f"Model version '{name}' already exists.", errno=_ALREADY_EXISTS)
        files = self._stage_files(stage, path, "READ")
        if "MANIFEST.yml" not in files:
            raise DoubleSQLError(f"Unable to read file MANIFEST.yml in stage path @{stage}/{path}")
        model.versions[name] = VersionState(name=name, files=files)
        if model.default_version is None:
            model.default_version = name

    def _new_model(self, name_ref: str, describe: bool, first_version: Callable[[ModelState], None]) -> Result:
        """``CREATE MODEL … WITH VERSION …``: ``first_version`` adds the version to the new model."""
        database, schema, name = self._resolve(name_ref)
        state = self._create_in_schema("MODEL", database, schema)
        if name in state.models:
            raise DoubleSQLError(f"Object '{name}' already exists.", errno=_ALREADY_EXISTS)
        if not describe:
            model = ModelState(name)
            first_version(model)
            state.models[name] = model
            self.acl.create(("MODEL", f"{database}.{schema}.{name}"), self.current_role, schema=f"{database}.{schema}")
        return _status(f"Model {name} successfully created.")

    def _create_model(self, m: re.Match[str], describe: bool = False, **_: Any) -> Result:
        return self._new_model(
            m.group(1), describe, lambda model: self._new_version(model, m.group(2), m.group(3), m.group(4))
        )

    def _add_version(self, m: re.Match[str], describe: bool = False, **_: Any) -> Result:
        model = self._owned_model(m.group(1))
        if not describe:
            self._new_version(model, m.group(2), m.group(3), m.group(4))
        return _status()

    def _copied_version(self, model: ModelState, version_ref: str, source_model: str, source_version: str) -> None:
        """A version copied from another model's: the files only (metadata and comment start empty).

        Reading the source takes USAGE (or OWNERSHIP) on it, as Snowflake's copy does.
        """
        source = self._version_state(self._model_state(source_model, "USAGE"), source_version)
        name = unquote(version_ref)
        if name in model.versions:
            raise DoubleSQLError(f"Model version '{name}' already exists.", errno=_ALREADY_EXISTS)
        model.versions[name] = VersionState(name=name, files=dict(source.files))
        if model.default_version is None:
            model.default_version = name

    def _create_model_from_version(self, m: re.Match[str], describe: bool = False, **_: Any) -> Result:
        return self._new_model(
            m.group(1), describe, lambda model: self._copied_version(model, m.group(2), m.group(3), m.group(4))
        )

    def _add_version_from_version(self, m: re.Match[str], describe: bool = False, **_: Any) -> Result:
        model = self._owned_model(m.group(1))
        if not describe:
            self._copied_version(model, m.group(2), m.group(3), m.group(4))
        return _status()

    def _version_comment(self, m: re.Match[str], describe: bool = False, **_: Any) -> Result:
        version = self._version_state(self._owned_model(m.group(1)), m.group(2))
        if not describe:
            version.comment = m.group(3)
        return _status()

    def _version_metadata(self, m: re.Match[str], describe: bool = False, **_: Any) -> Result:
        version = self._version_state(self._owned_model(m.group(1)), m.group(2))
        try:
            parsed = json.loads(m.group(3))
        except ValueError as err:
            raise DoubleSQLError(f"Invalid metadata JSON: {err}", errno=100069) from None
        if not describe:
            version.metadata = json.dumps(parsed)
        return _status()

    def _set_alias(self, m: re.Match[str], describe: bool = False, **_: Any) -> Result:
        model = self._owned_model(m.group(1))
        version = self._version_state(model, m.group(2))
        alias = unquote(m.group(3))
        if alias in SYSTEM_ALIASES:
            raise DoubleSQLError(f"Alias '{alias}' is reserved.", errno=_SYNTAX)
        holder = next((v for v in model.versions.values() if alias in v.aliases), None)
        if holder is not None:
            raise DoubleSQLError(f"Alias '{alias}' already exists on version '{holder.name}'.", errno=_ALREADY_EXISTS)
        if version.aliases:  # Snowflake: "A version can have at most one alias."
            raise DoubleSQLError(f"Version '{version.name}' already has alias '{version.aliases[0]}'.", errno=_SYNTAX)
        if not describe:
            version.aliases.append(alias)
        return _status()

    def _unset_alias(self, m: re.Match[str], describe: bool = False, **_: Any) -> Result:
        version = self._version_state(self._owned_model(m.group(1)), m.group(2))  # a version or its alias
        if not version.aliases:
            raise DoubleSQLError(f"Version '{version.name}' has no alias to unset.")
        if not describe:
            version.aliases.clear()
        return _status()

    def _set_default(self, m: re.Match[str], describe: bool = False, **_: Any) -> Result:
        model = self._owned_model(m.group(1))
        version = self._version_state(model, m.group(2))
        if not describe:
            model.default_version = version.name
        return _status()

    def _drop_version(self, m: re.Match[str], describe: bool = False, **_: Any) -> Result:
        model = self._owned_model(m.group(1))
        version = self._version_state(model, m.group(2))
        if model.default_version == version.name:
            raise DoubleSQLError("Cannot drop the default version of a model.", errno=_SYNTAX)
        if not describe:
            del model.versions[version.name]
        return _status()

    def _drop_model(self, m: re.Match[str], describe: bool = False, **_: Any) -> Result:
        database, schema, name = self._resolve(m.group(1))
        self._owned_model(m.group(1))
        if not describe:
            del self._schema(database, schema).models[name]
            self.acl.drop(("MODEL", f"{database}.{schema}.{name}"))
        return _status(f"{name} successfully dropped.")

    def _model_comment(self, m: re.Match[str], describe: bool = False, **_: Any) -> Result:
        model = self._owned_model(m.group(1))
        if not describe:
            model.comment = m.group(2)
        return _status()

    def _create_tag(self, m: re.Match[str], describe: bool = False, **_: Any) -> Result:
        database, schema, tag = self._resolve(m.group(1))
        state = self._create_in_schema("TAG", database, schema)
        if not describe and tag not in state.tags:
            state.tags.add(tag)
            self.acl.create(("TAG", f"{database}.{schema}.{tag}"), self.current_role)
        return _status(f"Tag {tag} successfully created.")

    def _tag_name(self, name: str) -> str:
        database, schema, tag = self._resolve(name)
        if tag not in self._schema(database, schema).tags:
            raise DoubleSQLError(f"Tag '{database}.{schema}.{tag}' does not exist or not authorized.")
        return f"{database}.{schema}.{tag}"

    def _applicable_tag(self, name: str) -> str:
        """A tag the role may set: APPLY on it (or its OWNERSHIP), or the global APPLY TAG."""
        tag = self._tag_name(name)
        if not self.acl.holds(self.current_role, ("ACCOUNT", self.account), "APPLY TAG"):
            self._require("TAG", tag, "APPLY")
        return tag

    def _set_tag(self, m: re.Match[str], describe: bool = False, **_: Any) -> Result:
        model = self._owned_model(m.group(1))
        tag = self._applicable_tag(m.group(2))
        value = m.group(3)
        if len(value) > 256:
            raise DoubleSQLError("Tag value exceeds the maximum length of 256 characters.", errno=_SYNTAX)
        if not describe:
            model.tags[tag] = value
        return _status()

    def _unset_tag(self, m: re.Match[str], describe: bool = False, **_: Any) -> Result:
        model = self._owned_model(m.group(1))
        tag = self._applicable_tag(m.group(2))
        if not describe:
            model.tags.pop(tag, None)
        return _status()

    def _tag_references(self, m: re.Match[str], **_: Any) -> Result:
        model = self._model_state(m.group(2))
        columns = [("TAG_DATABASE", _TEXT), ("TAG_SCHEMA", _TEXT), ("TAG_NAME", _TEXT), ("TAG_VALUE", _TEXT)]
        rows = [(*tag.split(".", 2), value) for tag, value in model.tags.items()]
        return Result(columns, [tuple(r) for r in rows])

    def _get_tag(self, m: re.Match[str], **_: Any) -> Result:
        model = self._model_state(m.group(2))
        tag = ".".join(self._resolve(m.group(1)))
        return Result([("TAG_VALUE", _TEXT)], [(model.tags.get(tag),)])

    def _parquet_frames(self, stage_location: str) -> list[pd.DataFrame]:
        stage_name, prefix = self._split_stage_location("@" + stage_location)
        files = self._stage_files(stage_name, prefix, "READ")
        return [pd.read_parquet(io.BytesIO(data)) for data in files.values()]

    def _infer_schema(self, m: re.Match[str], **_: Any) -> Result:
        frame = pd.concat(self._parquet_frames(m.group(1)))
        rows = [(str(c), _sql_type(frame[c])) for c in frame.columns]
        return Result([("COLUMN_NAME", _TEXT), ("TYPE", _TEXT)], rows)

    # -- tables ---------------------------------------------------------------------------------------
    def _table_key(self, database: str, schema: str, table: str) -> tuple[str, str]:
        return ("TABLE", f"{database}.{schema}.{table}")

    def _new_table(self, database: str, schema: str, table: str, state: TableState, *, copy_grants: bool) -> None:
        """Create (or replace) a table owned by the session's role; grants survive only with COPY GRANTS."""
        key = self._table_key(database, schema, table)
        replaced = key if copy_grants and key in self.acl.grants else None
        self._schema(database, schema).tables[table] = state
        self.acl.create(key, self.current_role, copy_from=replaced)

    def _create_table(self, m: re.Match[str], describe: bool = False, **_: Any) -> Result:
        database, schema, table = self._resolve(m.group(1))
        tables = self._create_in_schema("TABLE", database, schema).tables
        columns = [
            (unquote(name), sql_type)
            for name, sql_type in re.findall(rf"({_PART}) ([A-Z0-9_(),]+?)(?:, |$)", m.group(2))
        ]
        if not describe and table not in tables:
            frame = pd.DataFrame({name: pd.Series(dtype=object) for name, _ in columns})
            self._new_table(database, schema, table, TableState(columns, frame), copy_grants=False)
        return _status(f"Table {table} successfully created.")

    def _create_empty_table(self, m: re.Match[str], describe: bool = False, **_: Any) -> Result:
        """``CREATE TABLE t IF NOT EXISTS (<col> <type>, …)`` (Snowpark's append to a new table)."""
        database, schema, table = self._resolve(m.group(1))
        tables = self._create_in_schema("TABLE", database, schema).tables
        columns = [(unquote(name), sql_type) for name, sql_type in re.findall(rf"({_PART}) ([A-Z]+)", m.group(2))]
        if not describe and table not in tables:
            frame = pd.DataFrame({name: pd.Series(dtype=object) for name, _ in columns})
            self._new_table(database, schema, table, TableState(columns, frame), copy_grants=False)
        return _status(f"Table {table} successfully created.")

    def _drop_table(self, m: re.Match[str], describe: bool = False, **_: Any) -> Result:
        database, schema, table = self._resolve(m.group(1))
        if table in self._schema(database, schema).tables:
            self._require("TABLE", f"{database}.{schema}.{table}", OWNERSHIP)
            if not describe:
                del self._schema(database, schema).tables[table]
                self.acl.drop(self._table_key(database, schema, table))
        return _status(f"{table} successfully dropped.")

    def _rename_table(self, m: re.Match[str], describe: bool = False, **_: Any) -> Result:
        database, schema, table = self._resolve(m.group(1))
        new_database, new_schema, new_table = self._resolve(m.group(2))
        state = self._table(m.group(1), OWNERSHIP)
        if not describe:
            del self._schema(database, schema).tables[table]
            self._schema(new_database, new_schema).tables[new_table] = state
            self.acl.rename(
                self._table_key(database, schema, table), self._table_key(new_database, new_schema, new_table)
            )
        return _status()

    def _copy_into(self, m: re.Match[str], describe: bool = False, **_: Any) -> Result:
        table = self._table(m.group(1), "INSERT")
        frames = self._parquet_frames(m.group(2))
        if not describe:
            loaded = pd.concat(frames, ignore_index=True)
            loaded.columns = [str(c) for c in loaded.columns]
            table.data = pd.concat([table.data, loaded], ignore_index=True) if len(table.data) else loaded
        columns = [("file", _TEXT), ("status", _TEXT), ("rows_parsed", _FIXED), ("rows_loaded", _FIXED)]
        return Result(columns, [(f"file{i}.txt", "LOADED", len(f), len(f)) for i, f in enumerate(frames)])

    def _table(self, name: str, *privileges: str) -> TableState:
        database, schema, table = self._resolve(name)
        state = self._schema(database, schema).tables.get(table)
        key = self._table_key(database, schema, table)
        if state is None or not self.acl.visible(self.current_role, key):
            raise DoubleSQLError(f"Table '{database}.{schema}.{table}' does not exist or not authorized.")
        if privileges:
            self._require(*key, *privileges)
        return state

    def _relation(self, name: str) -> Relation:
        table = self._table(name, "SELECT")
        return Relation(table.data.copy(), dict(table.columns))

    def _evaluate(self, sql: str) -> Relation:
        try:
            return evaluate(sql, self._relation, self._call_model)
        except UnsupportedSQL as err:
            raise DoubleSQLError(f"session double cannot evaluate ({err}): {sql[:300]}", errno=_SYNTAX) from None

    def _select(self, m: re.Match[str], **_: Any) -> Result:
        relation = self._evaluate(m.string)
        rows = [tuple(_plain(v) for v in row) for row in relation.frame.itertuples(index=False, name=None)]
        return Result(relation.columns, rows)

    def _create_table_as(self, m: re.Match[str], describe: bool = False, **_: Any) -> Result:
        database, schema, table = self._resolve(m.group(3))
        state = self._create_in_schema("TABLE", database, schema)
        if table in state.tables:
            if not m.group(1):
                if m.group(2):
                    return _status(f"{table} already exists, statement succeeded.")
                raise DoubleSQLError(f"Object '{table}' already exists.", errno=_ALREADY_EXISTS)
            self._require(*self._table_key(database, schema, table), OWNERSHIP)  # replacing needs ownership
        relation = self._evaluate(m.group(6))
        if not describe:
            state_ = TableState(relation.columns, relation.frame)
            self._new_table(database, schema, table, state_, copy_grants=bool(m.group(5)))
        return _status(f"Table {table} successfully created.")

    def _show_tables(self, m: re.Match[str], **_: Any) -> Result:
        database, schema = split_name(m.group(2))[-2:] if m.group(2) else (self.current_database, self.current_schema)
        names = [
            t
            for t in self._schema(database, schema).tables
            if _like(t, m.group(1)) and self.acl.visible(self.current_role, self._table_key(database, schema, t))
        ]
        return Result([("created_on", _TIMESTAMP), ("name", _TEXT)], [(_now(), n) for n in names])

    def _insert(self, m: re.Match[str], describe: bool = False, **_: Any) -> Result:
        table = self._table(m.group(1), "INSERT")
        rows = self._evaluate(m.group(3)).frame
        if m.group(2):
            rows.columns = [unquote(c.strip()) for c in m.group(2).split(",")]
        if not describe:
            table.data = pd.concat([table.data, rows], ignore_index=True)
        return Result([("number of rows inserted", _FIXED)], [(len(rows),)])

    # -- model files and inference ------------------------------------------------------------------
    def _model_files(self, url: str) -> tuple[VersionState, str]:
        """The version and path a ``snow://model/<db>.<schema>.<model>/versions/<v>/<path>`` URL names (READ)."""
        match = re.match(rf"^snow://model/({_NAME})/versions/({_PART})/?(.*)$", url)
        if match is None:
            raise DoubleSQLError(f"Cannot parse {url}", errno=_SYNTAX)
        version = self._version_state(self._model_state(match.group(1), "READ"), match.group(2))
        return version, match.group(3)

    def _list_model_files(self, m: re.Match[str], **_: Any) -> Result:
        version, path = self._model_files(m.group(1))
        names = [f for f in version.files if f == path or f.startswith(path.rstrip("/") + "/") or not path]
        rows = [
            (
                f"versions/{version.name}/{name}",
                len(version.files[name]),
                hashlib.md5(version.files[name], usedforsecurity=False).hexdigest(),
            )
            for name in names
        ]
        return Result([("name", _TEXT), ("size", _FIXED), ("md5", _TEXT)], rows)

    def _call_model(self, model_name: str, version_name: str, method: str, args: pd.DataFrame) -> list[dict[str, Any]]:
        version = self._version_state(self._model_state(model_name, "USAGE"), version_name)
        spec = next((f for f in version.manifest["methods"] if f["name"].upper() == method), None)
        if spec is None:
            raise DoubleSQLError(f"Unknown function {method} in model {model_name} version {version_name}.")
        target = spec["handler"].split(".")[1]
        (model_info,) = version.model_spec["models"].values()
        estimator = pickle.loads(version.files[f"model/models/{model_info['name']}/{model_info['path']}"])
        signature = version.model_spec["signatures"][target]
        # The warehouse UDF hands the model its arguments under the signature's feature names.
        inputs = pd.DataFrame(
            {feature["name"]: args[i].to_numpy() for i, feature in enumerate(signature["inputs"])}, index=args.index
        )
        try:
            outputs = np.asarray(getattr(estimator, target)(inputs))
        except Exception as err:
            raise DoubleSQLError(f"Python Interpreter Error: {type(err).__name__}: {err}", errno=100357) from None
        names = [o["name"] for o in signature["outputs"]]
        outputs = outputs.reshape(len(inputs), len(names))
        return [dict(zip(names, (_plain(v) for v in row), strict=True)) for row in outputs]

    # -- file transfers -------------------------------------------------------------------------------
    def _split_stage_location(self, location: str) -> tuple[str, str]:
        location = location.strip().strip("'")
        if not location.startswith("@"):
            raise DoubleSQLError(f"Not a stage location: {location}", errno=_SYNTAX)
        match = re.match(rf"@({_NAME})(/.*)?$", location)
        if match is None:
            raise DoubleSQLError(f"Cannot parse stage location {location}", errno=_SYNTAX)
        return match.group(1), (match.group(2) or "/").strip("/")

    def _put(self, local_file_name: str, stage_location: str) -> list[Any]:
        from snowflake.snowpark.file_operation import PutResult

        results = []
        for source, size in self.upload(local_file_name, stage_location):
            results.append(PutResult(str(source), source.name, size, size, "NONE", "NONE", "UPLOADED", ""))
        return results

    def upload(self, local_file_name: str, stage_location: str) -> list[tuple[Path, int]]:
        """Store local files (a path or a ``dir/*`` glob) in a stage, as PUT does (WRITE on the stage)."""
        self.log.append(RoundTrip("put", f"PUT file://{local_file_name} {stage_location}"))
        stage_name, prefix = self._split_stage_location(stage_location)
        database, schema, stage = self._resolve(stage_name)
        files = self._schema(database, schema).stages.get(stage)
        if files is None:
            raise DoubleSQLError(f"Stage '{database}.{schema}.{stage}' does not exist or not authorized.")
        try:
            self._require("STAGE", f"{database}.{schema}.{stage}", "WRITE")
        except AccessDenied as err:
            raise DoubleSQLError(str(err), errno=err.errno) from None
        local = Path(local_file_name)
        sources = sorted(local.parent.glob(local.name)) if "*" in local.name else [local]
        uploaded = []
        for source in sources:
            target = f"{prefix}/{source.name}".lstrip("/")
            files[target] = source.read_bytes()
            uploaded.append((source, len(files[target])))
        return uploaded

    def _get(self, stage_location: str, target_directory: str) -> list[Any]:
        from snowflake.snowpark.file_operation import GetResult

        self.log.append(RoundTrip("get", f"GET {stage_location} file://{target_directory}"))
        try:
            if stage_location.startswith("snow://model/"):
                version, path = self._model_files(stage_location)
                files = {name: data for name, data in version.files.items() if name == path}
            else:
                stage_name, prefix = self._split_stage_location(stage_location)
                stored = self._stage_files(stage_name, "", "READ")
                files = {p: d for p, d in stored.items() if p == prefix or p.startswith(prefix.rstrip("/") + "/")}
        except AccessDenied as err:
            raise DoubleSQLError(str(err), errno=err.errno) from None
        results = []
        for path, data in files.items():
            local = Path(target_directory) / Path(path).name
            local.parent.mkdir(parents=True, exist_ok=True)
            local.write_bytes(data)
            results.append(GetResult(str(local), str(len(data)), "DOWNLOADED", ""))
        return results


def default_access(account: str, database: str, schemas: list[str]) -> AccessControl:
    """The account's roles and grants: SYSADMIN owns the database, ML_ENGINEER works in it.

    Hierarchy: ACCOUNTADMIN > SECURITYADMIN (MANAGE GRANTS) > USERADMIN; ACCOUNTADMIN >
    SYSADMIN > ML_ADMIN > ML_ENGINEER. DATA_SCIENTIST, ML_ENGINEER_RO and ANALYST use the
    database and schemas and hold nothing else.
    """
    acl = AccessControl(account=account)
    acl.add_role("PUBLIC")
    for role, children in {
        "ACCOUNTADMIN": ["SECURITYADMIN", "SYSADMIN"],
        "SECURITYADMIN": ["USERADMIN"],
        "USERADMIN": [],
        "SYSADMIN": ["ML_ADMIN"],
        "ML_ADMIN": [ENGINEER],
        ENGINEER: [],
        "DATA_SCIENTIST": [],
        "ML_ENGINEER_RO": [],
        "ANALYST": [],
    }.items():
        acl.add_role(role, inherits=children)
    acl.grants[("ACCOUNT", account)] = {("MANAGE GRANTS", "SECURITYADMIN"), ("APPLY TAG", "ACCOUNTADMIN")}
    users = {ENGINEER, "DATA_SCIENTIST", "ML_ENGINEER_RO", "ANALYST"}
    acl.grants[("DATABASE", database)] = {(OWNERSHIP, "SYSADMIN"), *(("USAGE", r) for r in users)}
    for schema in schemas:
        engineer = {(f"CREATE {kind}", ENGINEER) for kind in ("MODEL", "STAGE", "TAG", "TABLE")}
        acl.grants[("SCHEMA", f"{database}.{schema}")] = {
            (OWNERSHIP, "SYSADMIN"),
            *(("USAGE", r) for r in users),
            *engineer,
        }
    return acl


def _plain(value: Any) -> Any:
    """numpy scalars and pandas NA as the connector would return them."""
    if value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return None
    return value.item() if isinstance(value, np.generic) else value


def _installed(distribution: str) -> str:
    from importlib.metadata import version

    return version(distribution)


def _now() -> datetime:
    return datetime.now(UTC)


def _sql_type(series: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(series):
        return "BOOLEAN"
    if pd.api.types.is_integer_dtype(series):
        return "NUMBER(38,0)"
    if pd.api.types.is_float_dtype(series):
        return "FLOAT"
    return "VARCHAR"


__all__ = [
    "ENGINEER",
    "DoubleSQLError",
    "Result",
    "RoundTrip",
    "SnowflakeDouble",
    "default_access",
    "split_name",
    "unquote",
]
