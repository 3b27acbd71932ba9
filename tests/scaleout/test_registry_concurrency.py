"""Many tasks against one ``mlflow server`` on PostgreSQL at once.

16 LogModel tasks register 16 distinct versions (MLflow numbers versions MAX+1 and can
race, mlflow/mlflow#22635); 8 PromoteVersion tasks on one alias leave it on one of them,
with an audit record for every move and ``previous_champion`` consistent with the last
move. Every task is its own process, lined up at the registry call that races.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from airflow_registry_provider import tags
from tests.conftest import POSTGRES_HEAVY
from tests.scaleout.parallel import errors, run_parallel
from tests.scaleout.servers import MlflowServer

pytestmark = [pytest.mark.integration, pytest.mark.slow, POSTGRES_HEAVY]
MODEL = "concurrent_churn"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    from tests.cluster.harness import services_missing
    from tests.conftest import require_service

    missing = services_missing("LocalExecutor")
    require_service(missing is None, missing or "")
    mlflow_server = MlflowServer(tmp_path_factory.mktemp("mlflow-concurrency"), workers=2)
    mlflow_server.start()
    try:
        yield mlflow_server
    finally:
        mlflow_server.close()


@pytest.fixture
def registry(server: MlflowServer, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(
        "AIRFLOW_CONN_MLFLOW_DEFAULT",
        json.dumps({"conn_type": "mlflow_registry", "extra": {"tracking_uri": server.url, "timeout": 60}}),
    )
    return server.url


@pytest.fixture
def audit_db(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """An ``audit_pg`` connection to a fresh PostgreSQL database: the audit trail's SQL sink."""
    import secrets

    from tests.cluster.harness import PG_HOST, PG_PORT, PG_USER, pg_admin

    name = f"arp_audit_{secrets.token_hex(6)}"
    pg_admin(f'CREATE DATABASE "{name}"')
    conn = {"conn_type": "postgres", "host": PG_HOST, "port": PG_PORT, "login": PG_USER, "schema": name}
    monkeypatch.setenv("AIRFLOW_CONN_AUDIT_PG", json.dumps(conn))
    try:
        yield "audit_pg"
    finally:
        pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _log_model(paths: dict[str, str], version_name: str, model: str = MODEL, **kwargs: object):
    from airflow_registry_provider.operators import LogModelOperator

    return LogModelOperator(
        task_id=f"log_{version_name.replace('.', '_')}",
        model_name=model,
        model=paths["model"],
        version_name=version_name,
        sample_input=paths["sample"],
        metrics={"accuracy": 0.9},
        **kwargs,
    )


def test_16_concurrent_registrations_get_16_distinct_versions(registry: str, audit_db: str, tmp_path: Path) -> None:
    from mlflow import MlflowClient

    from tests.helpers import make_model_files, task_context

    paths = make_model_files(tmp_path)
    _create_audit_table(audit_db)  # its concurrent creation is test_first_audit_writes_in_parallel_create_the_table

    def register(i: int) -> dict:
        operator = _log_model(paths, f"1.0.{i}", audit_conn_id=audit_db)
        return operator.execute(task_context(operator.task_id, run_id=f"manual__reg{i}"))

    results = run_parallel(
        register, 16, barrier_at="mlflow.store.model_registry.rest_store.RestStore.create_model_version"
    )
    assert errors(results) == []
    refs = [value for _, value in results]
    assert sorted(int(ref["version"]) for ref in refs) == list(range(1, 17))
    client = MlflowClient(registry)
    versions = client.search_model_versions(f"name = '{MODEL}'")
    assert len(versions) == 16
    by_name = {mv.tags[tags.VERSION_NAME]: mv for mv in versions}
    assert set(by_name) == {f"1.0.{i}" for i in range(16)}
    for ref in refs:
        mv = by_name[ref["version_name"]]
        assert str(mv.version) == ref["version"]
        assert mv.tags[tags.ARTIFACT_SHA256] and mv.tags[tags.FLAVOR] == "sklearn"
    from airflow_registry_provider.audit_trail import read_sql_records

    registered = [r for r in read_sql_records(audit_db, MODEL) if r.action == "register"]
    assert sorted(int(r.version) for r in registered) == list(range(1, 17))


def _create_audit_table(conn_id: str) -> None:
    from airflow_registry_provider.audit_trail import sql_hook
    from airflow_registry_provider.governance.audit import DEFAULT_TABLE, create_table_sql

    sql_hook(conn_id).run(create_table_sql(DEFAULT_TABLE))


def test_first_audit_writes_in_parallel_create_the_table(audit_db: str) -> None:
    from airflow_registry_provider.audit_trail import AuditTrail, _Pending, read_sql_records
    from airflow_registry_provider.hooks.mlflow import MlflowRegistryHook

    def record(i: int) -> None:
        trail = AuditTrail(MlflowRegistryHook(), actor="alice", sql_conn_id=audit_db)
        trail._write_sql([_Pending(_record(i), None, {})])  # the SQL sink alone: the table does not exist yet

    results = run_parallel(record, 8, barrier_at="airflow.providers.common.sql.hooks.sql.DbApiHook.run")
    assert errors(results) == []
    assert len(read_sql_records(audit_db, "parallel_audit")) == 8


def _record(i: int):
    from datetime import UTC, datetime

    from airflow_registry_provider.governance.audit import AuditRecord

    return AuditRecord(
        at=datetime.now(UTC), actor="alice", backend="mlflow", model="parallel_audit", action="tag", version=str(i)
    )


def test_8_concurrent_promotions_leave_one_consistent_champion(registry: str, audit_db: str, tmp_path: Path) -> None:
    from mlflow import MlflowClient

    from airflow_registry_provider.alias_lease import lease_key
    from airflow_registry_provider.audit_trail import read_sql_records
    from airflow_registry_provider.operators import PromoteVersionOperator
    from tests.helpers import make_model_files, task_context

    model = "concurrent_promote"
    paths = make_model_files(tmp_path)
    refs = [
        _log_model(paths, f"2.0.{i}", model=model).execute(task_context("log", run_id=f"manual__p{i}"))
        for i in range(8)
    ]
    client = MlflowClient(registry)
    for ref in refs:
        client.set_model_version_tag(model, ref["version"], tags.VALIDATION_STATUS, tags.VALIDATION_PASSED)

    def promote(i: int) -> dict:
        operator = PromoteVersionOperator(
            task_id="promote", model_version=refs[i], reason=f"candidate {i}", audit_conn_id=audit_db
        )
        return operator.execute(task_context("promote", run_id=f"manual__promote{i}"))

    # Lined up where the race is: all 8 contend for the alias lease at once.
    started = time.monotonic()
    results = run_parallel(promote, 8, barrier_at="airflow_registry_provider.alias_lease.AliasLease.acquire")
    print(f"8 concurrent promotions: {time.monotonic() - started:.1f} s")
    assert errors(results) == []
    champion = client.get_model_version_by_alias(model, "champion").version
    assert champion in {ref["version"] for ref in refs}

    records = read_sql_records(audit_db, model)
    moves = [r for r in records if r.action == "alias" and r.after and r.after.get("alias") == "champion"]
    # One record per promotion, each naming its own version.
    assert sorted(r.version for r in moves) == sorted(ref["version"] for ref in refs)
    last = max(moves, key=lambda r: r.at)
    assert last.version == champion, "the last recorded move is the alias's holder"
    previous = last.before.get("version") if last.before else None
    holder = {a: v for a, v in client.get_registered_model(model).aliases.items()}.get("previous_champion")
    assert holder == previous, "previous_champion is the version the last move replaced"
    # The moves form one chain: each replaced the version the move before it installed.
    chain = sorted(moves, key=lambda r: r.at)
    for before, after in itertools.pairwise(chain):
        assert (after.before or {}).get("version") == before.version
    # Each task's XCom names the move it made; the lease is free again.
    assert sorted(value["previous_version"] or "" for _, value in results) == sorted(
        (r.before or {}).get("version") or "" for r in moves
    )
    assert client.get_registered_model(model).tags.get(lease_key("champion")) == ""


def test_a_lost_version_number_race_is_retried_without_duplicates(
    registry: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the server answers when its 3 attempts at MAX+1 all collided: the hook retries, once per loss."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    from tests.helpers import make_model_files, task_context

    model = "lost_race"
    paths = make_model_files(tmp_path)
    original = MlflowClient.create_model_version
    lost = {"n": 0}

    def collides(self: MlflowClient, *args: object, **kwargs: object) -> object:
        if lost["n"] < 2:
            lost["n"] += 1
            raise MlflowException(f"Model Version creation error (name={model}). Giving up after 3 attempts.")
        return original(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(MlflowClient, "create_model_version", collides)
    ref = _log_model(paths, "1.0.0", model=model).execute(task_context("log_model"))
    assert ref["version"] == "1"
    assert [mv.version for mv in MlflowClient(registry).search_model_versions(f"name = '{model}'")] == ["1"]


def test_first_registrations_in_parallel_share_one_experiment(
    registry: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """8 tasks that find no experiment yet all create it at once: one wins, the others use it."""
    from tests.helpers import make_model_files, task_context

    extra = {"tracking_uri": registry, "timeout": 60, "experiment_name": "arp_parallel_first"}
    monkeypatch.setenv("AIRFLOW_CONN_MLFLOW_DEFAULT", json.dumps({"conn_type": "mlflow_registry", "extra": extra}))
    paths = make_model_files(tmp_path)

    def register(i: int) -> dict:
        operator = _log_model(paths, f"3.0.{i}", model="first_in_experiment")
        return operator.execute(task_context(operator.task_id, run_id=f"manual__first{i}"))

    results = run_parallel(register, 8, barrier_at="mlflow.store.tracking.rest_store.RestStore.create_experiment")
    assert errors(results) == []


def test_the_audit_database_lock_lets_one_holder_in_at_a_time(audit_db: str) -> None:
    """PromoteVersion's strict exclusion where the audit sink is PostgreSQL: a second holder waits."""
    import threading

    from airflow_registry_provider.audit_trail import AuditTrail
    from airflow_registry_provider.hooks.mlflow import MlflowRegistryHook

    def trail() -> AuditTrail:
        return AuditTrail(MlflowRegistryHook(), actor="alice", sql_conn_id=audit_db)

    entered = threading.Event()

    def second() -> None:
        with trail().exclusive("mlflow_default/churn/champion"):
            entered.set()

    with trail().exclusive("mlflow_default/churn/champion"):
        waiter = threading.Thread(target=second)
        waiter.start()
        assert not entered.wait(1.0), "the second holder waits while the first holds the lock"
        with trail().exclusive("mlflow_default/churn/challenger"):
            pass  # another alias is not blocked
    assert entered.wait(10.0), "and enters once the first has left"
    waiter.join(timeout=10)
