"""ModelVersionSensor and its trigger on real sqlite registries; the deferred wait in a real
triggerer (the last test, on the promotion cluster)."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowFailException, TaskDeferred

from airflow_registry_provider.sensors.model_version import ModelVersionSensor
from airflow_registry_provider.triggers.model_version import ModelVersionTrigger
from tests.cluster.harness import AirflowCluster
from tests.conftest import POSTGRES_HEAVY
from tests.helpers import task_context
from tests.promotion.environments_fixtures import (  # noqa: F401 - fixtures
    MODEL,
    Registries,
    deployment,
    promotion_cluster,
    registries,
)


def _sensor(**kwargs: Any) -> ModelVersionSensor:
    return ModelVersionSensor(task_id="wait", registry_conn_id="mlflow_dev", model_name=MODEL, **kwargs)


def _first_event(trigger: ModelVersionTrigger, timeout: float = 60) -> dict[str, Any]:
    async def first() -> dict[str, Any]:
        async for event in trigger.run():
            return event.payload
        raise AssertionError("the trigger ended without an event")

    return asyncio.run(asyncio.wait_for(first(), timeout))


def test_deferring_hands_the_baseline_to_a_serializable_trigger(registries: Registries) -> None:  # noqa: F811
    registries.register("DEV", "1.0.0", champion=False)
    with pytest.raises(TaskDeferred) as deferred:
        _sensor(deferrable=True, poke_interval=0.1).execute(task_context("wait"))
    trigger = deferred.value.trigger
    assert isinstance(trigger, ModelVersionTrigger)
    path, kwargs = trigger.serialize()
    assert path == "airflow_registry_provider.triggers.model_version.ModelVersionTrigger"
    assert kwargs == {
        "registry_conn_id": "mlflow_dev",
        "model_name": MODEL,
        "alias": None,
        "baseline": "1",
        "poke_interval": 0.1,
    }
    # The triggerer rebuilds it from the serialized form; it fires on the next version.
    registries.register("DEV", "1.1.0", champion=False)
    event = _first_event(ModelVersionTrigger(**kwargs))
    assert event["status"] == "changed" and event["model_version"]["version"] == "2"
    result = _sensor().execute_complete(task_context("wait"), event)
    assert result["version"] == "2" and result["model_version"]["version"] == "2"
    assert result["previous_version"] == "1"


def test_an_alias_move_fires_and_polls_leave_the_environment_alone(registries: Registries) -> None:  # noqa: F811
    first = registries.register("DEV", "1.0.0")
    second = registries.register("DEV", "1.1.0", champion=False)
    trigger = ModelVersionTrigger("mlflow_dev", MODEL, alias="champion", baseline=first, poke_interval=0.1)
    before = dict(os.environ)

    async def move_later() -> dict[str, Any]:
        polls = asyncio.ensure_future(_next(trigger))
        await asyncio.sleep(0.5)
        assert not polls.done(), "fired before the alias moved"
        await asyncio.to_thread(registries.hook("DEV").set_alias, MODEL, "champion", second)
        return await asyncio.wait_for(polls, 60)

    event = asyncio.run(move_later())
    assert event["model_version"]["version"] == second and event["previous_version"] == first
    assert dict(os.environ) == before  # triggers share one process: no global state written


async def _next(trigger: ModelVersionTrigger) -> dict[str, Any]:
    async for event in trigger.run():
        return event.payload
    raise AssertionError("no event")


def test_poke_mode_succeeds_when_a_version_appears(registries: Registries) -> None:  # noqa: F811
    sensor = _sensor(poke_interval=0.1, timeout=5, mode="poke")
    sensor._start()
    assert sensor._baseline is None  # no model yet: any first version counts
    assert sensor.poke(task_context("wait")).is_done is False
    registries.register("DEV", "1.0.0", champion=False)
    found = sensor.poke(task_context("wait"))
    assert found.is_done is True and found.xcom_value["version"] == "1"


def test_a_configuration_error_ends_the_trigger_with_its_message(registries: Registries) -> None:  # noqa: F811
    event = _first_event(ModelVersionTrigger("no_such_connection", MODEL, poke_interval=0.1))
    assert event["status"] == "error" and event["message"].startswith("registry_conn_id:")
    with pytest.raises(AirflowFailException, match="^registry_conn_id:"):
        _sensor().execute_complete(task_context("wait"), event)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"model_name": "bad/name"}, "^model_name"),
        ({"alias": "not an alias!"}, "^alias"),
        ({"mode": "reschedule"}, "^after_version: is required with mode='reschedule'"),
        ({"registry_conn_id": "no_such_connection"}, "^registry_conn_id"),
    ],
)
def test_bad_input_fails_at_once(registries: Registries, kwargs: dict[str, Any], message: str) -> None:  # noqa: F811
    options = {"registry_conn_id": "mlflow_dev", "model_name": MODEL, **kwargs}
    with pytest.raises(AirflowFailException, match=message):
        ModelVersionSensor(task_id="wait", deferrable=True, **options).execute(task_context("wait"))


@pytest.mark.integration
@pytest.mark.slow
@POSTGRES_HEAVY
def test_the_sensor_waits_in_a_real_triggerer_without_a_worker_slot(
    deployment: tuple[AirflowCluster, Registries],  # noqa: F811
) -> None:
    airflow, found = deployment
    run_id = airflow.trigger("wait_for_version")
    ti = airflow.wait_for_task("wait_for_version", run_id, "wait", {"deferred", "failed", "success"}, timeout=600)
    assert ti["state"] == "deferred", airflow.failure_report("wait_for_version", run_id)

    # Deferred, it holds no worker slot: the only one runs another DAG meanwhile.
    probe = airflow.trigger("probe")
    assert airflow.wait_for_run("probe", probe, timeout=300) == "success"
    waiting = airflow.api("GET", f"{airflow.run_path('wait_for_version', run_id)}/taskInstances/wait")
    assert waiting["state"] == "deferred"
    assert waiting["trigger"]["classpath"] == "airflow_registry_provider.triggers.model_version.ModelVersionTrigger"
    assert waiting["triggerer_job"] is not None  # a running triggerer holds it

    version = found.register("DEV", "1.0.0", champion=False, model_name="watched")
    assert airflow.wait_for_run("wait_for_version", run_id, timeout=300) == "success"
    result = airflow.xcom("wait_for_version", run_id, "wait")
    assert result["version"] == version and result["model_name"] == "watched" and result["previous_version"] is None
