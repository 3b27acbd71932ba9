"""dags/environment_promotion.py on four sqlite MLflow registries.

With dag.test(): DEV -> SIT -> UAT through their gates, and bad input that promotes nothing.
The PRD approval parks its task (``dag.test``/``airflow dags test`` would wait forever), so
the full route runs in a real Airflow (``promotion_cluster``): scheduled by the DEV
champion's Asset event, the approval answered through the REST API by an allowed approver
(and refused, 403, for another user), a rejection, and a rollback after a failed
post-promotion check.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from airflow_registry_provider import tags
from airflow_registry_provider.environments import load_environments
from airflow_registry_provider.exceptions import InvalidInputError
from airflow_registry_provider.operators.rollback import rolled_back
from airflow_registry_provider.promotion import resolve_source
from tests.cluster.harness import AirflowCluster, ApiError
from tests.conftest import POSTGRES_HEAVY, REPO
from tests.promotion.environments_fixtures import (  # noqa: F401 - fixtures
    MODEL,
    Registries,
    deployment,
    promotion_cluster,
    registries,
)


def _dag() -> Any:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(REPO / "dags" / "environment_promotion.py"))
    assert bag.import_errors == {}
    return bag.dags["environment_promotion"]


def _run(**conf: Any) -> tuple[Any, dict[str, str]]:
    run = _dag().test(run_conf=conf)
    return run, {ti.task_id: str(ti.state) for ti in run.get_task_instances()}


def test_dev_to_uat_promotes_through_each_gate(airflow_db: None, registries: Registries) -> None:  # noqa: F811
    dev = registries.register("DEV", "1.0.0")
    run, states = _run(route=["DEV", "SIT", "UAT"])

    assert str(run.state) == "success", states
    for env in ("SIT", "UAT"):
        (version,) = registries.versions(env)
        assert version.version_name == "1.0.0" and registries.champion(env) == version.version
        assert version.tags[tags.VALIDATION_STATUS] == tags.VALIDATION_PASSED
        assert version.tags["airflow_registry.copied_from_version"] == dev
    # UAT declares grants, but a local store has no access control: skipped, not failed.
    assert states["UAT.grant"] == "skipped"
    assert {states[t] for t in states if t.startswith("PRD.")} == {"skipped"}
    assert registries.versions("PRD") == []


def _nothing_promoted(found: Registries) -> None:
    for env in ("SIT", "UAT", "PRD"):
        assert found.versions(env) == [], env


@pytest.mark.parametrize(
    ("conf", "source_status", "field", "message"),
    [
        ({"route": ["DEV", "QA"]}, "passed", "route[1]", "unknown environment 'QA'"),
        ({"route": ["DEV", "PRD"]}, "passed", "route[1]", "skips SIT, UAT"),
        ({"source_version": "99"}, "passed", "source_version", "99"),
        ({}, "rejected", "source_version", "rejected by its gate"),
        ({}, None, "source_version", "has not passed its gate"),
    ],
)
def test_bad_input_fails_the_plan_and_promotes_nothing(
    airflow_db: None,
    registries: Registries,  # noqa: F811
    conf: dict[str, Any],
    source_status: str | None,
    field: str,
    message: str,
) -> None:
    registries.register("DEV", "1.0.0", status=source_status)
    config = load_environments(registries.environments_file)
    with pytest.raises(InvalidInputError, match=message) as info:
        resolve_source(config, conf.get("route", config.chain()), conf.get("source_version"))
    assert info.value.field == field

    run, states = _run(**conf)
    assert str(run.state) == "failed"
    assert states["plan_promotion"] == "failed"
    _nothing_promoted(registries)


def test_a_rolled_back_source_is_not_promoted_again(airflow_db: None, registries: Registries) -> None:  # noqa: F811
    version = registries.register("DEV", "1.0.0")
    registries.hook("DEV").set_version_tags(MODEL, version, {tags.ROLLED_BACK: '{"reason": "accuracy fell"}'})
    with pytest.raises(InvalidInputError, match="was rolled back .accuracy fell"):
        resolve_source(load_environments(registries.environments_file), ["DEV", "SIT"], None)
    _, states = _run(route=["DEV", "SIT"])
    assert states["plan_promotion"] == "failed"
    _nothing_promoted(registries)


def test_no_champion_in_the_first_environment_is_named(airflow_db: None, registries: Registries) -> None:  # noqa: F811
    registries.register("DEV", "1.0.0", champion=False)
    with pytest.raises(InvalidInputError, match="no version of 'churn' holds 'champion' in DEV") as info:
        resolve_source(load_environments(registries.environments_file), ["DEV", "SIT"], None)
    assert info.value.field == "source_version"


def test_a_typo_in_the_environments_file_is_an_import_error_naming_the_key(
    airflow_db: None,
    registries: Registries,  # noqa: F811
) -> None:
    from airflow.dag_processing.dagbag import DagBag

    text = registries.environments_file.read_text().replace("approval:", "aproval:")
    registries.environments_file.write_text(text)
    bag = DagBag(dag_folder=str(REPO / "dags" / "environment_promotion.py"))
    (error,) = bag.import_errors.values()
    assert "environments.PRD.aproval: unknown key (did you mean 'approval'?)" in error


# -- the full route in a real Airflow: approval through the REST API ---------------------------
DAG = "environment_promotion"


def _states(cluster: AirflowCluster, run_id: str) -> dict[str, str]:
    return {ti["task_id"]: ti["state"] for ti in cluster.task_instances(DAG, run_id)}


def _asset_triggered_run(cluster: AirflowCluster, after: set[str]) -> str:
    found: list[str] = []

    def created() -> bool:
        runs = cluster.api("GET", f"/api/v2/dags/{DAG}/dagRuns?limit=100")["dag_runs"]
        found[:] = [
            r["dag_run_id"] for r in runs if r["run_type"] == "asset_triggered" and r["dag_run_id"] not in after
        ]
        return bool(found)

    cluster._wait_until(created, "the DEV champion's Asset event to trigger environment_promotion", 300)
    return found[0]


def _run_ids(cluster: AirflowCluster) -> set[str]:
    return {r["dag_run_id"] for r in cluster.api("GET", f"/api/v2/dags/{DAG}/dagRuns?limit=100")["dag_runs"]}


def _park(cluster: AirflowCluster, run_id: str) -> None:
    """Wait until PRD.approval waits for an answer, then ~10 s (an earlier answer can fail it on Airflow 3.3.2)."""
    ti = cluster.wait_for_task(
        DAG, run_id, "PRD.approval", {"awaiting_input", "failed", "upstream_failed", "skipped"}, timeout=900
    )
    assert ti["state"] == "awaiting_input", cluster.failure_report(DAG, run_id)
    time.sleep(10)


def _answer(cluster: AirflowCluster, run_id: str, user: str, option: str) -> Any:
    path = f"{cluster.run_path(DAG, run_id)}/taskInstances/PRD.approval/-1/hitlDetails"
    return cluster.api("PATCH", path, {"chosen_options": [option]}, user=user)


def _promoted_by_dev_champion(cluster: AirflowCluster, found: Registries) -> str:
    version = found.register("DEV", "1.0.0", champion=False)
    before = _run_ids(cluster)
    run = cluster.trigger("dev_champion", {"version": version})
    assert cluster.wait_for_run("dev_champion", run) == "success", cluster.failure_report("dev_champion", run)
    return _asset_triggered_run(cluster, before)


@pytest.mark.integration
@pytest.mark.slow
@POSTGRES_HEAVY
def test_the_dev_champion_goes_to_prd_with_an_allowed_approval(
    deployment: tuple[AirflowCluster, Registries],  # noqa: F811
) -> None:
    airflow, found = deployment
    run_id = _promoted_by_dev_champion(airflow, found)
    _park(airflow, run_id)

    # Parked in awaiting_input, the approval holds no worker slot: the only one runs another DAG.
    probe = airflow.trigger("probe")
    assert airflow.wait_for_run("probe", probe, timeout=300) == "success"
    assert _states(airflow, run_id)["PRD.approval"] == "awaiting_input"

    with pytest.raises(ApiError) as denied:
        _answer(airflow, run_id, "mallory", "Approve")
    assert denied.value.status == 403
    answered = _answer(airflow, run_id, "alice", "Approve")
    assert answered["responded_by"]["id"] == "alice"
    assert airflow.wait_for_run(DAG, run_id, timeout=900) == "success", airflow.failure_report(DAG, run_id)

    states = _states(airflow, run_id)
    for env in ("SIT", "UAT", "PRD"):
        (version,) = [v for v in found.versions(env) if v.version_name == "1.0.0"]
        assert found.champion(env) == version.version, (env, states)
    prd = found.hook("PRD")
    champion = prd.get_version(MODEL, alias="champion")
    assert champion.tags[tags.APPROVED_BY] == "alice" and champion.tags[tags.APPROVAL_STATUS] == "approved"
    assert champion.tags[tags.APPROVED_AT] == answered["responded_at"].replace("Z", "+00:00")
    audit = json.loads(prd.get_model_tags(MODEL)[tags.AUDIT_LOG])
    assert [r["approver"] for r in audit if r["action"] == "alias" and r["after"]["alias"] == "champion"] == ["alice"]
    assert states["PRD.grant"] == "skipped" and states["UAT.grant"] == "skipped"
    assert "Skipping: registry_conn_id: grants need an MLflow tracking server" in airflow.task_log(
        DAG, run_id, "PRD.grant"
    )
    assert states["PRD.post_promotion_check"] == "success" and states["PRD.rollback"] == "skipped"


def _seed_prd_champion(found: Registries) -> str:
    return found.champion("PRD") or found.register("PRD", "0.9.0")


@pytest.mark.integration
@pytest.mark.slow
@POSTGRES_HEAVY
def test_a_rejection_promotes_nothing(deployment: tuple[AirflowCluster, Registries]) -> None:  # noqa: F811
    airflow, found = deployment
    before = _seed_prd_champion(found)
    found.register("UAT", "2.0.0")
    run_id = airflow.trigger(DAG, {"route": ["UAT", "PRD"]})
    _park(airflow, run_id)
    _answer(airflow, run_id, "alice", "Reject")
    assert airflow.wait_for_run(DAG, run_id, timeout=900) == "success", airflow.failure_report(DAG, run_id)

    states = _states(airflow, run_id)
    assert states["PRD.approval"] == "success"
    assert {states[t] for t in ("PRD.promote", "PRD.grant", "PRD.post_promotion_check", "PRD.rollback")} == {"skipped"}
    assert found.champion("PRD") == before
    (copy,) = [v for v in found.versions("PRD") if v.version_name == "2.0.0"]
    assert copy.tags[tags.APPROVAL_STATUS] == "rejected" and copy.tags[tags.APPROVED_BY] == "alice"
    assert "champion" not in copy.aliases


@pytest.mark.integration
@pytest.mark.slow
@POSTGRES_HEAVY
def test_a_failed_post_promotion_check_restores_the_previous_champion(
    deployment: tuple[AirflowCluster, Registries],  # noqa: F811
) -> None:
    airflow, found = deployment
    before = _seed_prd_champion(found)
    source = found.register("UAT", "3.0.0", good=False)  # claims accuracy 0.95, fails on fresh data
    run_id = airflow.trigger(DAG, {"route": ["UAT", "PRD"]})
    _park(airflow, run_id)
    _answer(airflow, run_id, "alice", "Approve")
    airflow.wait_for_run(DAG, run_id, timeout=900)

    states = _states(airflow, run_id)
    assert states["PRD.promote"] == "success" and states["PRD.post_promotion_check"] == "failed", states
    assert states["PRD.rollback"] == "success", airflow.failure_report(DAG, run_id)
    assert found.champion("PRD") == before
    (failed,) = [v for v in found.versions("PRD") if v.version_name == "3.0.0"]
    assert failed.tags[tags.VALIDATION_STATUS] == tags.VALIDATION_REJECTED
    mark = rolled_back(failed.tags)
    assert mark is not None and mark["reason"].startswith("post-promotion check in PRD failed: accuracy >= 0.8")
    assert rolled_back(found.hook("UAT").get_version_tags(MODEL, source)) == mark

    # The next run does not promote it again.
    again = airflow.trigger(DAG, {"route": ["UAT", "PRD"]})
    assert airflow.wait_for_run(DAG, again, timeout=600) == "failed"
    assert _states(airflow, again)["plan_promotion"] == "failed"
    assert "was rolled back" in airflow.task_log(DAG, again, "plan_promotion")
    assert found.champion("PRD") == before
