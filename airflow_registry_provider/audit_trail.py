"""The audit trail every operator records its registry changes through.

One call per change::

    trail = AuditTrail.from_context(context, hook, sql_conn_id=self.audit_conn_id)
    hook.set_alias(model, "champion", version)
    trail.record_alias(model, "champion", old_version=old, new_version=version, reason=self.reason)

Each record goes to the registry itself (a capped JSON log in the ``AUDIT_LOG`` tag of
the version and of the model) and, when ``sql_conn_id`` is set, to an append-only table
in any database with a common-sql hook (created if missing; only ever INSERTed into).
Inside ``with trail.batch():`` records are buffered and written once per model, once
per version and in one INSERT, which keeps bulk changes (retention) at one write each.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from airflow_registry_provider import tags as tag_keys
from airflow_registry_provider.exceptions import AuditError, InvalidInputError, RegistryError
from airflow_registry_provider.governance.audit import (
    DEFAULT_TABLE,
    AuditRecord,
    alias_change,
    append_capped,
    create_table_sql,
    parse_log,
    resolve_actor,
    select_sql,
    sql_column_names,
    validate_table,
)

if TYPE_CHECKING:
    from airflow.providers.common.sql.hooks.sql import DbApiHook
    from airflow.sdk import Context

    from airflow_registry_provider.hooks.base import RegistryHook

#: Records kept in a version's / a model's registry log (the SQL table keeps everything).
VERSION_LOG_RECORDS = 50
MODEL_LOG_RECORDS = 200


def sql_hook(conn_id: str) -> DbApiHook:
    """The common-sql hook of an Airflow connection (PostgreSQL, MySQL, Snowflake, sqlite, ...)."""
    from airflow.providers.common.sql.hooks.sql import DbApiHook
    from airflow.sdk import BaseHook

    hook = BaseHook.get_connection(conn_id).get_hook()
    if not isinstance(hook, DbApiHook):
        raise RegistryError(f"connection {conn_id!r} is not a SQL database (its hook is {type(hook).__name__})")
    return hook


def _table_exists(hook: DbApiHook, table: str) -> bool:
    """Whether ``table`` (or ``schema.table``) exists, asked through SQLAlchemy's inspector."""
    from sqlalchemy import inspect

    schema, _, name = table.rpartition(".")
    return bool(inspect(hook.get_sqlalchemy_engine()).has_table(name, schema=schema or None))


def read_sql_records(conn_id: str, model: str, table: str = DEFAULT_TABLE) -> list[AuditRecord]:
    """Every record of ``model`` in the audit table, oldest first."""
    hook = sql_hook(conn_id)
    rows = hook.get_records(select_sql(table, hook.placeholder), parameters=(model,))
    return [AuditRecord.from_sql_row(row) for row in rows]


def load_records(
    hook: RegistryHook, model: str, sql_conn_id: str | None = None, table: str = DEFAULT_TABLE
) -> list[AuditRecord]:
    """A model's audit records: the SQL table when configured (complete), else the
    model's capped registry log (the most recent records only)."""
    if sql_conn_id:
        return read_sql_records(sql_conn_id, model, table)
    return parse_log(hook.get_model_tags(model).get(tag_keys.AUDIT_LOG))


def context_actor(context: Context) -> str:
    """The user who triggered the run, else ``<run_type>:<run_id>`` (scheduled, backfill, ...)."""
    dag_run = context.get("dag_run")
    run_type = getattr(dag_run, "run_type", None)
    return resolve_actor(
        getattr(dag_run, "triggering_user_name", None),
        getattr(run_type, "value", run_type),
        getattr(dag_run, "run_id", None) or context.get("run_id"),
    )


#: Shortest model tag that can hold one audit record with its identity fields.
MIN_MODEL_LOG_CHARS = 1024


@dataclass(frozen=True)
class _Pending:
    record: AuditRecord
    version_tags: Mapping[str, str] | None
    also_set: Mapping[str, str]


class AuditTrail:
    """Writes :class:`AuditRecord` s for one task's registry changes."""

    def __init__(
        self,
        hook: RegistryHook,
        *,
        actor: str,
        dag_id: str | None = None,
        run_id: str | None = None,
        task_id: str | None = None,
        sql_conn_id: str | None = None,
        table: str = DEFAULT_TABLE,
    ) -> None:
        self.hook = hook
        self.actor = actor
        self.dag_id = dag_id
        self.run_id = run_id
        self.task_id = task_id
        self.sql_conn_id = sql_conn_id
        self.table = validate_table(table)
        self._pending: list[_Pending] = []
        self._batching = False
        self._skip_recorded = False
        self._table_ready = False

    @classmethod
    def from_context(
        cls, context: Context, hook: RegistryHook, sql_conn_id: str | None = None, table: str = DEFAULT_TABLE
    ) -> AuditTrail:
        """A trail for the running task: actor, dag, run and task come from the context.

        The actor is the user who triggered the run, else ``<run_type>:<run_id>``.
        """
        dag_run = context.get("dag_run")
        ti = context.get("ti")
        return cls(
            hook,
            actor=context_actor(context),
            dag_id=getattr(ti, "dag_id", None) or getattr(dag_run, "dag_id", None),
            run_id=getattr(dag_run, "run_id", None) or context.get("run_id"),
            task_id=getattr(ti, "task_id", None),
            sql_conn_id=sql_conn_id,
            table=table,
        )

    # -- recording -------------------------------------------------------------------
    def record(
        self,
        action: str,
        *,
        model: str,
        version: str | None = None,
        before: Any = None,
        after: Any = None,
        reason: str | None = None,
        approver: str | None = None,
        version_tags: Mapping[str, str] | None = None,
        also_set: Mapping[str, str] | None = None,
    ) -> AuditRecord:
        """Record one change; written now unless inside :meth:`batch`.

        ``version_tags`` are the version's current tags when the caller already has them
        (saves reading them back to extend the version's log). ``also_set`` are version
        tags the change itself consists of: they are written in the same call as the
        version's audit log, one metadata write where the backend has them (Snowflake).
        """
        if also_set and version is None:
            raise InvalidInputError("also_set", "version tags need the version to set them on")
        record = AuditRecord(
            at=datetime.now(UTC),
            actor=self.actor,
            backend=self.hook.backend,
            model=model,
            action=action,
            version=None if version is None else str(version),
            before=before,
            after=after,
            reason=reason,
            approver=approver,
            dag_id=self.dag_id,
            run_id=self.run_id,
            task_id=self.task_id,
        )
        self._pending.append(_Pending(record, version_tags, dict(also_set or {})))
        if not self._batching:
            self.flush()
        return record

    def record_alias(
        self,
        model: str,
        alias: str,
        *,
        old_version: str | None,
        new_version: str | None,
        reason: str | None = None,
        approver: str | None = None,
        also_set: Mapping[str, str] | None = None,
    ) -> AuditRecord:
        """Record an alias move (``new_version`` None: the alias was removed).

        ``also_set``: version tags written with the new holder's log (promotion tags).
        """
        before, after = alias_change(alias, old_version, new_version)
        return self.record(
            "alias",
            model=model,
            version=new_version,
            before=before,
            after=after,
            reason=reason,
            approver=approver,
            also_set=also_set,
        )

    @contextmanager
    def batch(self, *, skip_recorded: bool = False) -> Iterator[None]:
        """Buffer records and write them together when the block ends (also on error).

        ``skip_recorded``: a retry completing a lost attempt's change; each sink leaves out
        the records it already holds (same change by the same task, see
        :meth:`AuditRecord.change_key`), so a record missing from one sink is written once
        and none is written twice.
        """
        self._batching, self._skip_recorded = True, skip_recorded
        try:
            yield
        finally:
            self._batching = False
            try:
                self.flush()
            finally:
                self._skip_recorded = False

    def flush(self) -> None:
        """Write pending records to every sink; raise :class:`AuditError` if any sink failed."""
        pending, self._pending = self._pending, []
        if not pending:
            return
        records = [item.record for item in pending]
        failures = []
        for sink in (self._write_sql, self._write_registry):
            try:
                sink(pending)
            except Exception as err:  # every sink is attempted before reporting
                failures.append(f"{sink.__name__.removeprefix('_write_')}: {type(err).__name__}: {err}")
        for record in records:
            self.hook.log.info(
                "Audit: %s %s %s%s by %s: %s -> %s",
                record.action,
                record.backend,
                record.model,
                f" v{record.version}" if record.version else "",
                record.actor,
                record.before,
                record.after,
            )
        if failures:
            raise AuditError(f"{len(records)} audit record(s) not fully written: " + "; ".join(failures))

    # -- sinks -----------------------------------------------------------------------
    def prepare_sql(self) -> DbApiHook | None:
        """The SQL sink's hook with its table created (None without a SQL sink).

        Called before a change where possible, so that an unreachable audit database fails
        the task before anything is written. ``CREATE TABLE IF NOT EXISTS`` is not atomic on
        PostgreSQL (two first writers race on the catalog and one gets a unique violation),
        so a failed CREATE is fine when the table exists once it returns.
        """
        if not self.sql_conn_id:
            return None
        hook = sql_hook(self.sql_conn_id)
        if not self._table_ready:
            try:
                hook.run(create_table_sql(self.table))
            except Exception:
                if not _table_exists(hook, self.table):
                    raise
                self.hook.log.info("Audit table %s was created by a concurrent task", self.table)
            self._table_ready = True
        return hook

    @contextmanager
    def exclusive(self, key: str) -> Iterator[None]:
        """Hold a database lock on ``key`` while the block runs, where the SQL sink is PostgreSQL.

        A session-level advisory lock on the sink's database: the tasks that record into it
        take turns on ``key``, and the server releases the lock if a worker dies holding it.
        Without a PostgreSQL sink nothing is held here (callers serialise through the
        registry as well, see ``alias_lease.py``).
        """
        hook = self.prepare_sql()
        if hook is None or hook.dialect_name != "postgresql":
            yield
            return
        conn = hook.get_conn()
        try:
            with closing(conn.cursor()) as cursor:
                cursor.execute("SELECT pg_advisory_lock(hashtextextended(%s, 0))", (key,))
            conn.commit()  # the lock is the session's: no transaction stays open while it is held
            yield
        finally:
            conn.close()

    def _write_sql(self, pending: list[_Pending]) -> None:
        hook = self.prepare_sql()
        if hook is None:
            return
        records = [item.record for item in pending]
        if self._skip_recorded:
            held = {
                r.change_key()
                for model in {r.model for r in records}
                for r in read_sql_records(self.sql_conn_id or "", model, self.table)
            }
            records = [r for r in records if r.change_key() not in held]
        if records:
            hook.insert_rows(self.table, [r.sql_row() for r in records], target_fields=sql_column_names())

    def _write_registry(self, pending: list[_Pending]) -> None:
        by_model: dict[str, list[AuditRecord]] = defaultdict(list)
        by_version: dict[tuple[str, str], list[AuditRecord]] = defaultdict(list)
        known_tags: dict[tuple[str, str], Mapping[str, str]] = {}
        extra_tags: dict[tuple[str, str], dict[str, str]] = defaultdict(dict)
        for item in pending:
            record = item.record
            by_model[record.model].append(record)
            if record.version is not None and record.action != "delete":
                key = (record.model, record.version)
                by_version[key].append(record)
                extra_tags[key].update(item.also_set)
                if item.version_tags is not None:
                    known_tags[key] = item.version_tags
        for (model, version), records in by_version.items():
            tags = known_tags.get((model, version))
            current = (tags if tags is not None else self.hook.get_version_tags(model, version)).get(tag_keys.AUDIT_LOG)
            records = self._unrecorded(current, records)
            written = dict(extra_tags[(model, version)])
            if records:
                written[tag_keys.AUDIT_LOG] = append_capped(
                    current, records, max_records=VERSION_LOG_RECORDS, max_chars=self.hook.max_version_tag_length
                )
            if written:
                self.hook.set_version_tags(model, version, written)
        if self.hook.max_model_tag_length < MIN_MODEL_LOG_CHARS:
            # Model tags this short (Snowflake: 256 characters) cannot hold one record: the
            # trail lives on the versions and in the SQL sink; don't spend round trips on "[]".
            return
        for model, records in by_model.items():
            current = self.hook.get_model_tags(model).get(tag_keys.AUDIT_LOG)
            records = self._unrecorded(current, records)
            if not records:
                continue
            log = append_capped(
                current, records, max_records=MODEL_LOG_RECORDS, max_chars=self.hook.max_model_tag_length
            )
            self.hook.set_model_tags(model, {tag_keys.AUDIT_LOG: log})

    def _unrecorded(self, log: str | None, records: list[AuditRecord]) -> list[AuditRecord]:
        """``records`` less those ``log`` holds already, when skipping recorded changes."""
        if not self._skip_recorded:
            return records
        held = {r.change_key() for r in parse_log(log)}
        return [r for r in records if r.change_key() not in held]
