"""Audit records, their capped registry log, their SQL table, and alias-history queries.

Pure module. One :class:`AuditRecord` describes one registry change made by an
operator. ``AuditTrail`` (``audit_trail.py``) writes them; the functions here answer
"which version held alias X at time T" from whatever records a sink returns.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from airflow_registry_provider.exceptions import InvalidInputError
from airflow_registry_provider.governance.identifiers import validate_identifier

#: The changes an audit record can describe.
ACTIONS = frozenset(
    {
        "register",
        "tag",
        "metric",
        "alias",
        "default_version",
        "stage",
        "grant",
        "revoke",
        "archive",
        "delete",
        "artifact",
        "description",
    }
)

DEFAULT_TABLE = "registry_audit"
#: SQL column for each record field; ``at``/``before``/``after`` are renamed because
#: they are reserved or awkward words in some SQL dialects (MySQL reserves BEFORE).
SQL_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("at", "recorded_at", "TIMESTAMP NOT NULL"),
    ("actor", "actor", "VARCHAR(512) NOT NULL"),
    ("dag_id", "dag_id", "VARCHAR(250)"),
    ("run_id", "run_id", "VARCHAR(250)"),
    ("task_id", "task_id", "VARCHAR(250)"),
    ("backend", "backend", "VARCHAR(32) NOT NULL"),
    ("model", "model", "VARCHAR(512) NOT NULL"),
    ("version", "version", "VARCHAR(256)"),
    ("action", "action", "VARCHAR(32) NOT NULL"),
    ("before", "before_value", "TEXT"),
    ("after", "after_value", "TEXT"),
    ("reason", "reason", "TEXT"),
    ("approver", "approver", "VARCHAR(512)"),
)
_TRUNCATED = "<truncated>"


def utc(value: datetime | str) -> datetime:
    """An aware UTC datetime from a datetime or ISO-8601 text (naive means UTC)."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise InvalidInputError("at", f"{value!r} is not an ISO-8601 date or time") from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@dataclass(frozen=True)
class AuditRecord:
    """One change to a registry: who, when, where from, what, and why.

    ``before``/``after`` are small JSON values (a tag value, a stage, an alias's
    ``{"alias": ..., "version": ...}``); ``version`` is None for model-level changes.
    """

    at: datetime
    actor: str
    backend: str
    model: str
    action: str
    version: str | None = None
    before: Any = None
    after: Any = None
    reason: str | None = None
    approver: str | None = None
    dag_id: str | None = None
    run_id: str | None = None
    task_id: str | None = None

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise InvalidInputError("action", f"{self.action!r} is not one of {', '.join(sorted(ACTIONS))}")

    def change_key(self) -> tuple[Any, ...]:
        """What the record says happened and which task did it; not when (a retry's record is
        the same change as its lost attempt's)."""
        data = self.to_dict()
        return tuple(
            json.dumps(data[key], sort_keys=True, default=str)
            for key in ("model", "version", "action", "before", "after", "dag_id", "run_id", "task_id")
        )

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["at"] = utc(self.at).isoformat()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AuditRecord:
        known: dict[str, Any] = {f: data.get(f) for f in cls.__dataclass_fields__}
        known["at"] = utc(known["at"])
        return cls(**known)

    def sql_row(self) -> tuple[Any, ...]:
        """Values in :data:`SQL_COLUMNS` order; ``recorded_at`` as naive UTC for portability."""
        data = self.to_dict()
        data["at"] = utc(self.at).replace(tzinfo=None)
        for key in ("before", "after"):
            data[key] = None if data[key] is None else json.dumps(data[key], sort_keys=True, default=str)
        return tuple(data[field] for field, _, _ in SQL_COLUMNS)

    @classmethod
    def from_sql_row(cls, row: Sequence[Any]) -> AuditRecord:
        data = dict(zip((field for field, _, _ in SQL_COLUMNS), row, strict=True))
        for key in ("before", "after"):
            data[key] = None if data[key] is None else json.loads(data[key])
        return cls.from_dict(data)


def resolve_actor(triggering_user_name: str | None, run_type: str | None, run_id: str | None) -> str:
    """The user who triggered the run, else ``<run_type>:<run_id>`` for scheduled runs."""
    if triggering_user_name:
        return triggering_user_name
    return f"{run_type or 'unknown'}:{run_id or 'unknown'}"


# -- registry log: a capped JSON list in one tag ------------------------------------------
def parse_log(text: str | None) -> list[AuditRecord]:
    """Records from a registry audit tag; entries that do not parse are skipped."""
    if not text:
        return []
    try:
        entries = json.loads(text)
    except ValueError:
        return []
    records = []
    for entry in entries if isinstance(entries, list) else []:
        try:
            records.append(AuditRecord.from_dict(entry))
        except (TypeError, ValueError, KeyError, AttributeError):
            continue
    return records


def append_capped(existing: str | None, new: Sequence[AuditRecord], *, max_records: int, max_chars: int) -> str:
    """The audit tag value after appending ``new``: newest records kept, oldest dropped to fit.

    A record too large to fit on its own keeps its identity and loses ``before``/``after``
    (the SQL sink keeps them whole); if even that does not fit (Snowflake model tags hold
    256 characters) the log is empty and the SQL sink is the only record.
    """
    entries = [r.to_dict() for r in parse_log(existing)] + [r.to_dict() for r in new]
    entries = entries[-max_records:]
    text = json.dumps(entries, sort_keys=True, default=str)
    while len(text) > max_chars and len(entries) > 1:
        entries.pop(0)
        text = json.dumps(entries, sort_keys=True, default=str)
    if len(text) > max_chars:
        entries = [{**entries[0], "before": _TRUNCATED, "after": _TRUNCATED}]
        text = json.dumps(entries, sort_keys=True, default=str)
    return text if len(text) <= max_chars else "[]"


# -- SQL table -------------------------------------------------------------------------
def validate_table(table: str) -> str:
    """Validate ``table`` or ``schema.table``; returned as given.

    Validated names are safe unquoted, and left unquoted so that each database folds
    their case its own way (PostgreSQL to lower, Snowflake to upper) and people can
    query the table by the name they configured.
    """
    if not isinstance(table, str):
        raise InvalidInputError("audit_table", f"{table!r} is not a table name")
    parts = table.split(".")
    if len(parts) > 2:
        raise InvalidInputError("audit_table", f"{table!r}: give table or schema.table")
    for part in parts:
        validate_identifier(part, "audit_table")
    return table


def create_table_sql(table: str) -> str:
    columns = ",\n  ".join(f"{column} {sql_type}" for _, column, sql_type in SQL_COLUMNS)
    return f"CREATE TABLE IF NOT EXISTS {validate_table(table)} (\n  {columns}\n)"


def sql_column_names() -> list[str]:
    return [column for _, column, _ in SQL_COLUMNS]


def select_sql(table: str, placeholder: str) -> str:
    """Every record of one model, oldest first (the only parameter is the model name)."""
    columns = ", ".join(sql_column_names())
    return f"SELECT {columns} FROM {validate_table(table)} WHERE model = {placeholder} ORDER BY recorded_at"  # noqa: S608 - validated identifiers


# -- alias history ---------------------------------------------------------------------
def alias_change(alias: str, old_version: str | None, new_version: str | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """``before``/``after`` of an alias move (a version of None: the alias was unset)."""

    def text(version: str | None) -> str | None:
        return None if version is None else str(version)

    return {"alias": alias, "version": text(old_version)}, {"alias": alias, "version": text(new_version)}


@dataclass(frozen=True)
class AliasSpan:
    """A version holding an alias from ``start`` until ``end`` (None: still holds it).

    ``start`` is None for the holder found in the oldest record's ``before``: it held
    the alias up to that change, since a time the trail does not know.
    """

    alias: str
    version: str | None
    start: datetime | None
    end: datetime | None
    actor: str | None = None
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["start"] = self.start.isoformat() if self.start else None
        data["end"] = self.end.isoformat() if self.end else None
        return data


def _alias_moves(records: Iterable[AuditRecord], alias: str) -> list[AuditRecord]:
    moves = [r for r in records if r.action == "alias" and isinstance(r.after, dict) and r.after.get("alias") == alias]
    return sorted(moves, key=lambda r: utc(r.at))


def alias_history(records: Iterable[AuditRecord], alias: str) -> list[AliasSpan]:
    """Who held ``alias`` when, oldest first, from the alias records of one model."""
    moves = _alias_moves(records, alias)
    spans: list[AliasSpan] = []
    if moves and isinstance(moves[0].before, dict) and moves[0].before.get("version") is not None:
        spans.append(AliasSpan(alias, str(moves[0].before["version"]), None, utc(moves[0].at)))
    for index, move in enumerate(moves):
        end = utc(moves[index + 1].at) if index + 1 < len(moves) else None
        version = move.after.get("version")
        spans.append(
            AliasSpan(alias, None if version is None else str(version), utc(move.at), end, move.actor, move.reason)
        )
    return spans


def version_at(records: Iterable[AuditRecord], alias: str, at: datetime | str) -> str | None:
    """The version that held ``alias`` at time ``at``; None if unset or not known then.

    Times before the first recorded move are not known (the trail says who held the
    alias just before that move, not since when), so they answer None.
    """
    when = utc(at)
    for span in alias_history(records, alias):
        if span.start is not None and span.start <= when and (span.end is None or when < span.end):
            return span.version
    return None
