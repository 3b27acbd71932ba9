"""dags/environment_promotion.py run for real with dag.test() on four sqlite MLflow registries:
DEV -> SIT -> UAT through their gates, and bad input that promotes nothing.

The PRD approval parks the task (``airflow dags test`` would wait forever): the full route
with its approval answered through the REST API runs in ``test_promotion_cluster.py``.
"""

from __future__ import annotations

from typing import Any

import pytest

from airflow_registry_provider import tags
from airflow_registry_provider.environments import load_environments
from airflow_registry_provider.exceptions import InvalidInputError
from airflow_registry_provider.promotion import resolve_source
from tests.conftest import REPO
from tests.promotion.environments_fixtures import MODEL, Registries, registries  # noqa: F401 - fixture


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
