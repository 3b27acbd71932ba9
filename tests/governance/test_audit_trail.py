from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from airflow_registry_provider import tags
from airflow_registry_provider.audit_trail import AuditError, AuditTrail, load_records, read_sql_records
from airflow_registry_provider.governance.audit import parse_log, version_at


def context(user: str | None = "alice") -> dict:
    dag_run = SimpleNamespace(
        run_id="manual__2026", run_type=SimpleNamespace(value="manual"), triggering_user_name=user, dag_id="d"
    )
    return {"dag_run": dag_run, "ti": SimpleNamespace(dag_id="d", task_id="t"), "run_id": "manual__2026"}


def test_from_context_takes_actor_and_ids() -> None:
    trail = AuditTrail.from_context(context(), hook=SimpleNamespace())
    assert (trail.actor, trail.dag_id, trail.run_id, trail.task_id) == ("alice", "d", "manual__2026", "t")
    assert AuditTrail.from_context(context(None), hook=SimpleNamespace()).actor == "manual:manual__2026"


def test_record_writes_version_and_model_logs(registry_hook, make_versions) -> None:
    (v1, v2) = make_versions("churn", 2)
    trail = AuditTrail.from_context(context(), registry_hook)
    trail.record("tag", model="churn", version=v1, before=None, after={"team": "ds"}, reason="label")
    trail.record_alias("churn", "champion", old_version=None, new_version=v2, reason="better auc", approver="bob")

    version_log = parse_log(registry_hook.get_version_tags("churn", v1)[tags.AUDIT_LOG])
    assert [(r.action, r.after, r.reason, r.actor) for r in version_log] == [("tag", {"team": "ds"}, "label", "alice")]
    model_log = parse_log(registry_hook.get_model_tags("churn")[tags.AUDIT_LOG])
    assert [r.action for r in model_log] == ["tag", "alias"]
    assert model_log[1].approver == "bob"
    assert (model_log[1].dag_id, model_log[1].run_id, model_log[1].task_id) == ("d", "manual__2026", "t")
    assert version_at(load_records(registry_hook, "churn"), "champion", model_log[1].at) == v2


def test_batch_writes_each_log_once(registry_hook, make_versions, monkeypatch: pytest.MonkeyPatch) -> None:
    versions = make_versions("churn", 3)
    calls: list[str] = []

    def counted(name: str):
        call = getattr(registry_hook, name)

        def wrapper(*args, **kwargs):
            calls.append(name)
            return call(*args, **kwargs)

        return wrapper

    for name in ("set_model_tags", "set_version_tags", "get_model_tags", "get_version_tags"):
        monkeypatch.setattr(registry_hook, name, counted(name))
    trail = AuditTrail.from_context(context(), registry_hook)
    with trail.batch():
        for v in versions:
            trail.record("archive", model="churn", version=v, version_tags={})
    assert sorted(calls) == ["get_model_tags", "set_model_tags", *["set_version_tags"] * 3]
    assert len(parse_log(registry_hook.get_model_tags("churn")[tags.AUDIT_LOG])) == 3


@pytest.mark.integration
def test_sql_sink_appends_to_postgres(registry_hook, make_versions, pg_conn_id: str) -> None:
    (v1,) = make_versions("churn", 1)
    trail = AuditTrail.from_context(context(), registry_hook, sql_conn_id=pg_conn_id)
    trail.record_alias("churn", "champion", old_version=None, new_version=v1, reason="first")
    AuditTrail.from_context(context("bob"), registry_hook, sql_conn_id=pg_conn_id).record(
        "stage", model="churn", version=v1, before=None, after="Production"
    )
    records = read_sql_records(pg_conn_id, "churn")
    assert [(r.action, r.actor, r.after) for r in records] == [
        ("alias", "alice", {"alias": "champion", "version": v1}),
        ("stage", "bob", "Production"),
    ]
    assert records[0].at.tzinfo is not None
    assert load_records(registry_hook, "churn", sql_conn_id=pg_conn_id) == records
    assert read_sql_records(pg_conn_id, "other") == []


def test_a_failing_sink_fails_loudly_after_trying_the_others(registry_hook, make_versions, monkeypatch) -> None:
    (v1,) = make_versions("churn", 1)
    monkeypatch.setenv("AIRFLOW_CONN_NOT_SQL", json.dumps({"conn_type": "mlflow_registry", "extra": {}}))
    trail = AuditTrail.from_context(context(), registry_hook, sql_conn_id="not_sql")
    with pytest.raises(AuditError, match="sql"):
        trail.record("tag", model="churn", version=v1, after="x")
    assert parse_log(registry_hook.get_model_tags("churn")[tags.AUDIT_LOG])[0].after == "x"


def test_a_tag_change_and_its_record_are_one_write(registry_hook, make_versions, monkeypatch) -> None:
    from airflow_registry_provider.exceptions import InvalidInputError

    (v1,) = make_versions("churn", 1)
    writes: list[dict] = []
    original = registry_hook.set_version_tags
    monkeypatch.setattr(
        registry_hook, "set_version_tags", lambda m, v, t: (writes.append(dict(t)), original(m, v, t))[1]
    )
    AuditTrail.from_context(context(), registry_hook).record(
        "tag", model="churn", version=v1, after="passed", also_set={"status": "passed"}
    )
    assert len(writes) == 1 and writes[0]["status"] == "passed" and tags.AUDIT_LOG in writes[0]
    assert registry_hook.get_version_tags("churn", v1)["status"] == "passed"
    with pytest.raises(InvalidInputError, match="version"):
        AuditTrail.from_context(context(), registry_hook).record("tag", model="churn", also_set={"a": "b"})
