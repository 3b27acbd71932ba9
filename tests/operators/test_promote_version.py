"""PromoteVersion's retries converge, on an MLflow sqlite store and on the Snowflake double.

A fault-injecting wrapper fails the task right after its k-th registry write (the hook's
write methods, lease writes included), for every k of a clean run; the retry (a new
operator, ``try_number`` 2) must leave the registry exactly as the clean run does: aliases,
stage, default version, version and model tags, and one audit record per change.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowFailException

from airflow_registry_provider import alias_lease
from airflow_registry_provider import tags as tag_keys
from airflow_registry_provider.exceptions import AuditError
from airflow_registry_provider.hooks.base import RegistryHook, get_registry_hook
from airflow_registry_provider.operators import PromoteVersionOperator
from tests.helpers import task_context
from tests.snowflake.session_double import SnowflakeDouble

WRITES = (
    "set_alias",
    "move_alias",
    "delete_alias",
    "set_version_tags",
    "set_model_tags",
    "set_default_version",
    "transition_stage",
)
#: Values a retry writes anew by design (the time of its promotion, of its records).
VOLATILE_TAGS = {tag_keys.PROMOTED_AT}


class InjectedFault(ConnectionError):
    """The registry went away right after a write (transient: Airflow retries)."""


@pytest.fixture(autouse=True)
def _quick_lease(monkeypatch: pytest.MonkeyPatch) -> None:
    # One process: no competitor to wait for (the concurrency tests use the real settle time).
    monkeypatch.setattr(alias_lease, "SETTLE_SECONDS", 0.0)


def _count_writes(hook: RegistryHook, fail_after: int | None) -> list[str]:
    """Wrap the hook's write methods on the instance (internal calls too); fail after write ``fail_after``."""
    done: list[str] = []

    def wrap(name: str, method: Callable[..., Any]) -> Callable[..., Any]:
        def write(*args: Any, **kwargs: Any) -> Any:
            result = method(*args, **kwargs)
            done.append(name)
            if len(done) == fail_after:
                raise InjectedFault(f"injected after write {fail_after} ({name})")
            return result

        return write

    for name in WRITES:
        setattr(hook, name, wrap(name, getattr(hook, name)))
    return done


def _promote(conn_id: str, ref: dict[str, Any], try_number: int, fail_after: int | None, **kwargs: Any) -> Any:
    operator = PromoteVersionOperator(
        task_id="promote", registry_conn_id=conn_id, model_version=ref, require_validation=False, reason="better",
        **kwargs,
    )  # fmt: skip
    writes = _count_writes(operator.hook, fail_after)
    context = task_context("promote", run_id="manual__promote")
    context["ti"].try_number = try_number
    return operator.execute(context), writes


def _records(log: str | None) -> list[tuple[Any, ...]]:
    keep = ("action", "version", "before", "after", "reason", "actor", "dag_id", "run_id", "task_id")
    return [tuple(json.dumps(r.get(k), sort_keys=True) for k in keep) for r in json.loads(log or "[]")]


def end_state(hook: RegistryHook, model: str) -> dict[str, Any]:
    """What a promotion leaves in the registry, read through the hook (backend-agnostic)."""
    versions = {}
    for mv in hook.iter_versions(model):
        tags = {k: v for k, v in mv.tags.items() if k not in VOLATILE_TAGS and k != tag_keys.AUDIT_LOG}
        versions[mv.version] = {
            "aliases": sorted(mv.aliases),
            "stage": mv.stage,
            "tags": tags,
            "audit": _records(mv.tags.get(tag_keys.AUDIT_LOG)),
        }
    model_tags = hook.get_model_tags(model)
    return {
        "versions": versions,
        "default": hook.get_default_version(model),
        "model_tags": {k: v for k, v in model_tags.items() if k != tag_keys.AUDIT_LOG},
        "model_audit": _records(model_tags.get(tag_keys.AUDIT_LOG)),
    }


def _converges(
    fresh: Callable[[int], tuple[str, str, dict[str, Any]]], **kwargs: Any
) -> tuple[dict[str, Any], list[str]]:
    """Run clean once; then, for each of its writes, fail after it and retry. Returns the clean state and writes."""
    conn_id, model, ref = fresh(0)
    result, writes = _promote(conn_id, ref, 1, None, **kwargs)
    clean = end_state(get_registry_hook(conn_id), model)
    assert writes, "the promotion wrote something"
    for k in range(1, len(writes) + 1):
        conn_id, model, ref = fresh(k)
        with pytest.raises((InjectedFault, AuditError)):  # the trail reports a sink's failure as AuditError
            _promote(conn_id, ref, 1, k, **kwargs)
        retried, _ = _promote(conn_id, ref, 2, None, **kwargs)
        assert end_state(get_registry_hook(conn_id), model) == clean, f"after a fault at write {k} ({writes[k - 1]})"
        assert retried["version"] == result["version"]
    return clean, writes


# -- MLflow (sqlite store) ------------------------------------------------------------------
@pytest.fixture
def mlflow_models(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[int], tuple[str, str, dict[str, Any]]]:
    """A fresh sqlite registry per call: model ``churn``, v1 champion (Production), v2 the candidate."""
    from mlflow import MlflowClient

    def fresh(k: int) -> tuple[str, str, dict[str, Any]]:
        uri = f"sqlite:///{tmp_path / f'mlflow{k}.db'}"
        monkeypatch.setenv(
            "AIRFLOW_CONN_MLFLOW_DEFAULT", json.dumps({"conn_type": "mlflow_registry", "extra": {"tracking_uri": uri}})
        )
        client = MlflowClient(uri, registry_uri=uri)
        client.create_registered_model("churn")
        for _ in range(2):
            client.create_model_version("churn", source=str(tmp_path / "model"))
        client.set_registered_model_alias("churn", "champion", "1")
        client.transition_model_version_stage("churn", "1", "Production")
        return "mlflow_default", "churn", {"registry_conn_id": "mlflow_default", "model_name": "churn", "version": "2"}

    return fresh


def test_mlflow_promotion_converges_after_a_fault_at_every_write(mlflow_models: Any) -> None:
    clean, writes = _converges(mlflow_models, stage="Production", archive_existing=True)
    v1, v2 = clean["versions"]["1"], clean["versions"]["2"]
    assert (v1["aliases"], v2["aliases"]) == (["previous_champion"], ["champion"])
    assert (v1["stage"], v2["stage"]) == ("Archived", "Production")
    assert v2["tags"][tag_keys.PROMOTED_BY] == "alice" and v2["tags"][tag_keys.PROMOTION_REASON] == "better"
    assert [json.loads(r[0]) for r in clean["model_audit"]] == ["alias", "alias", "stage"]
    assert clean["model_tags"] == {alias_lease.lease_key("champion"): ""}
    # Lease claim and plan, both aliases, the records (two versions, the model), the lease release.
    # (move_alias is counted once its two set_alias calls returned.)
    lease, aliases, records = ["set_model_tags"], ["set_alias", "set_alias", "move_alias"], ["set_version_tags"] * 2
    assert writes == [*lease, *lease, *aliases, "transition_stage", *records, "set_model_tags", *lease]


def test_mlflow_rollback_retried_after_the_swap_does_not_swap_back(mlflow_models: Any) -> None:
    conn_id, model, ref = mlflow_models(0)
    _promote(conn_id, ref, 1, None)
    operator = PromoteVersionOperator(task_id="rollback", model_name=model, rollback=True, reason="incident")
    writes = _count_writes(operator.hook, 4)  # claim, plan, previous_champion, champion: then the fault
    context = task_context("rollback", run_id="manual__rollback")
    with pytest.raises(InjectedFault):
        operator.execute(context)
    assert writes[-2:] == ["set_alias", "set_alias"]
    again = PromoteVersionOperator(task_id="rollback", model_name=model, rollback=True, reason="incident")
    context["ti"].try_number = 2
    result = again.execute(context)
    assert (result["version"], result["previous_version"]) == ("1", "2")
    state = end_state(get_registry_hook(conn_id), model)
    assert state["versions"]["1"]["aliases"] == ["champion"]
    assert state["versions"]["2"]["aliases"] == ["previous_champion"]
    rollback = [r for r in state["model_audit"] if json.loads(r[4]) == "incident"]
    assert len(rollback) == 2, "one record per alias moved by the rollback"


def test_a_promotion_in_place_writes_nothing_but_the_lease(mlflow_models: Any) -> None:
    conn_id, model, ref = mlflow_models(0)
    first, _ = _promote(conn_id, ref, 1, None)
    assert first["changes"] == ["previous_alias", "alias"] and first["model_version"]["version"] == "2"
    before = end_state(get_registry_hook(conn_id), model)
    operator = PromoteVersionOperator(task_id="promote", model_version=ref, require_validation=False)
    writes = _count_writes(operator.hook, None)
    again = operator.execute(task_context("promote", run_id="manual__other_run"))
    assert (again["changes"], again["previous_version"]) == ([], "2")
    assert writes == ["set_model_tags", "set_model_tags"], "the lease's claim and release only"
    assert end_state(get_registry_hook(conn_id), model) == before


def test_a_held_lease_makes_the_task_wait_then_fail_for_a_retry(mlflow_models: Any) -> None:
    conn_id, model, ref = mlflow_models(0)
    hook = get_registry_hook(conn_id)
    other = alias_lease.Claim("another-task", until=1e12)
    hook.set_model_tags(model, {alias_lease.lease_key("champion"): other.encode()})
    operator = PromoteVersionOperator(task_id="promote", model_version=ref, require_validation=False, lock_timeout=0.5)
    with pytest.raises(Exception, match="held by task another-task") as raised:
        operator.execute(task_context("promote"))
    assert not isinstance(raised.value, AirflowFailException), "transient: Airflow retries it"
    assert end_state(hook, model)["versions"]["2"]["aliases"] == []


# -- Snowflake (the scripted session double) ---------------------------------------------------
CONN = "snowflake_default"


@pytest.fixture
def snowflake_models(
    registered: SnowflakeDouble, _registered_state: dict[str, Any]
) -> Callable[[int], tuple[str, str, dict[str, Any]]]:
    """CHURN with V1_0_0 (default, CHAMPION) and V1_1_0 the candidate, restored per call."""

    def fresh(_: int) -> tuple[str, str, dict[str, Any]]:
        registered.restore(_registered_state)
        get_registry_hook(CONN).set_alias("churn", "champion", "V1_0_0")
        registered.reset_log()
        return CONN, "CHURN", {"registry_conn_id": CONN, "model_name": "churn", "version": "V1_1_0"}

    return fresh


def _alias_sql(double: SnowflakeDouble) -> list[str]:
    return [" ".join(s.split()) for s in double.writes() if "ALIAS" in s]


def test_snowflake_promotion_converges_after_a_fault_at_every_write(snowflake_models: Any) -> None:
    clean, writes = _converges(snowflake_models)
    old, new = clean["versions"]["V1_0_0"], clean["versions"]["V1_1_0"]
    assert (old["aliases"], new["aliases"], clean["default"]) == (["PREVIOUS_CHAMPION"], ["CHAMPION"], "V1_1_0")
    assert new["tags"][tag_keys.PROMOTED_BY] == "alice"
    assert [json.loads(r[0]) for r in new["audit"]] == ["alias", "default_version"]
    assert "move_alias" in writes and "set_default_version" in writes


def test_snowflake_moves_in_order_and_undoes_a_failed_step(registered: SnowflakeDouble) -> None:
    """Rollback onto a version that holds PREVIOUS_CHAMPION: Snowflake keeps one alias per version."""
    hook = get_registry_hook(CONN)
    hook.set_alias("churn", "champion", "V1_1_0")
    hook.set_alias("churn", "previous_champion", "V1_0_0")
    registered.reset_log()
    registered.fail(r"VERSION V1_1_0 SET ALIAS = PREVIOUS_CHAMPION")
    operator = PromoteVersionOperator(task_id="rollback", registry_conn_id=CONN, model_name="churn", rollback=True)
    context = task_context("rollback")
    with pytest.raises(Exception, match="(?i)connection|lost|fault"):
        operator.execute(context)
    model = "ALTER MODEL ML.REGISTRY.CHURN VERSION"
    assert _alias_sql(registered) == [
        f"{model} V1_0_0 UNSET ALIAS",
        f"{model} V1_1_0 UNSET ALIAS",
        f"{model} V1_1_0 SET ALIAS = PREVIOUS_CHAMPION",  # fails: the completed steps are undone, last first
        f"{model} V1_1_0 SET ALIAS = CHAMPION",
        f"{model} V1_0_0 SET ALIAS = PREVIOUS_CHAMPION",
    ]
    versions = registered.model("CHURN").versions
    assert (versions["V1_0_0"].aliases, versions["V1_1_0"].aliases) == (["PREVIOUS_CHAMPION"], ["CHAMPION"])
    registered.reset_log()
    context["ti"].try_number = 2
    result = PromoteVersionOperator(
        task_id="rollback", registry_conn_id=CONN, model_name="churn", rollback=True
    ).execute(context)
    assert (result["version"], result["previous_version"]) == ("V1_0_0", "V1_1_0")
    assert (versions["V1_0_0"].aliases, versions["V1_1_0"].aliases) == (["CHAMPION"], ["PREVIOUS_CHAMPION"])
    assert _alias_sql(registered) == [
        f"{model} V1_0_0 UNSET ALIAS",
        f"{model} V1_1_0 UNSET ALIAS",
        f"{model} V1_1_0 SET ALIAS = PREVIOUS_CHAMPION",
        f"{model} V1_0_0 SET ALIAS = CHAMPION",
    ]


def test_snowflake_refuses_to_displace_another_alias_before_any_alias_write(registered: SnowflakeDouble) -> None:
    hook = get_registry_hook(CONN)
    hook.set_alias("churn", "champion", "V1_0_0")
    hook.set_alias("churn", "challenger", "V1_1_0")
    registered.reset_log()
    ref = {"registry_conn_id": CONN, "model_name": "churn", "version": "V1_1_0"}
    operator = PromoteVersionOperator(
        task_id="promote", registry_conn_id=CONN, model_version=ref, require_validation=False
    )
    with pytest.raises(AirflowFailException, match="^alias: version V1_1_0 holds alias CHALLENGER"):
        operator.execute(task_context("promote"))
    assert _alias_sql(registered) == []
    assert get_registry_hook(CONN).get_model_tags("churn")[alias_lease.lease_key("CHAMPION")] == ""
