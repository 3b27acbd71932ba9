from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from airflow_registry_provider.exceptions import InvalidInputError
from airflow_registry_provider.governance import audit
from airflow_registry_provider.governance.audit import AuditRecord, alias_change

from .payloads import INJECTIONS

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def move(at: datetime, alias: str, old: str | None, new: str | None, actor: str = "alice") -> AuditRecord:
    before, after = alias_change(alias, old, new)
    return AuditRecord(
        at=at, actor=actor, backend="mlflow", model="churn", action="alias", version=new, before=before, after=after
    )


def test_unknown_action_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="action"):
        AuditRecord(at=T0, actor="a", backend="mlflow", model="m", action="drop")


def test_actor_prefers_the_triggering_user() -> None:
    assert audit.resolve_actor("alice", "manual", "manual__1") == "alice"
    assert audit.resolve_actor(None, "scheduled", "scheduled__2026") == "scheduled:scheduled__2026"


def test_record_round_trips_through_dict_and_sql_row() -> None:
    record = AuditRecord(
        at=T0, actor="a", backend="mlflow", model="m", action="tag", version="3", before={"k": 1}, after="x"
    )
    assert AuditRecord.from_dict(json.loads(json.dumps(record.to_dict()))) == record
    row = record.sql_row()
    assert row[0] == datetime(2026, 1, 1)  # naive UTC
    assert AuditRecord.from_sql_row(row) == record


def test_append_capped_keeps_the_newest_records() -> None:
    records = [move(T0 + timedelta(minutes=i), "champion", str(i), str(i + 1)) for i in range(30)]
    text = audit.append_capped(None, records[:20], max_records=25, max_chars=100_000)
    text = audit.append_capped(text, records[20:], max_records=25, max_chars=100_000)
    kept = audit.parse_log(text)
    assert [r.version for r in kept] == [str(i + 1) for i in range(5, 30)]
    small = audit.append_capped(text, [], max_records=25, max_chars=2000)
    assert len(small) <= 2000
    assert audit.parse_log(small)[-1] == records[-1]


def test_an_oversized_record_is_stored_without_its_values() -> None:
    big = AuditRecord(at=T0, actor="a", backend="mlflow", model="m", action="tag", after="x" * 5000)
    text = audit.append_capped(None, [big], max_records=10, max_chars=1000)
    assert len(text) < 1000
    assert audit.parse_log(text)[0].after == "<truncated>"
    assert audit.append_capped(None, [big], max_records=10, max_chars=100) == "[]"


def test_parse_log_skips_garbage() -> None:
    assert audit.parse_log("not json") == []
    assert audit.parse_log(json.dumps([{"nope": 1}, move(T0, "a", None, "1").to_dict()])) == [move(T0, "a", None, "1")]


def test_alias_history_and_version_at() -> None:
    records = [
        move(T0, "champion", "1", "2"),
        move(T0 + timedelta(days=10), "champion", "2", "5", actor="bob"),
        move(T0 + timedelta(days=12), "challenger", None, "6"),
        move(T0 + timedelta(days=20), "champion", "5", None),
        AuditRecord(at=T0, actor="a", backend="mlflow", model="churn", action="tag", version="2"),
    ]
    history = audit.alias_history(reversed(records), "champion")
    assert [(s.version, s.start, s.end) for s in history] == [
        ("1", None, T0),
        ("2", T0, T0 + timedelta(days=10)),
        ("5", T0 + timedelta(days=10), T0 + timedelta(days=20)),
        (None, T0 + timedelta(days=20), None),
    ]
    assert history[2].actor == "bob"
    assert audit.version_at(records, "champion", T0 - timedelta(days=1)) is None  # before the trail: unknown
    assert audit.version_at(records, "champion", T0) == "2"
    assert audit.version_at(records, "champion", "2026-01-11T00:00:00Z") == "5"
    assert audit.version_at(records, "champion", "2026-01-11") == "5"
    assert audit.version_at(records, "champion", T0 + timedelta(days=25)) is None
    assert audit.version_at(records, "challenger", T0 + timedelta(days=25)) == "6"


def test_bad_time_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="ISO-8601"):
        audit.version_at([], "champion", "yesterday")


def test_table_ddl_and_query() -> None:
    ddl = audit.create_table_sql("governance.registry_audit")
    assert ddl.startswith("CREATE TABLE IF NOT EXISTS governance.registry_audit (")
    assert "before_value TEXT" in ddl
    assert audit.select_sql("registry_audit", "%s").endswith("WHERE model = %s ORDER BY recorded_at")


@pytest.mark.parametrize("payload", [*(p for p in INJECTIONS if p != "db.schema"), "a.b.c", "t; DELETE FROM x"])
def test_table_name_injection_is_refused(payload: str) -> None:
    with pytest.raises(InvalidInputError):
        audit.create_table_sql(payload)
