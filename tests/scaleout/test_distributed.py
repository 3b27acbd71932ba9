"""The churn lifecycle DAG under the CeleryExecutor with two workers, against an ``mlflow server`` on PostgreSQL.

One run of ``dags/churn_model_lifecycle.py`` (train, register, gate, promote, grant, pin the
champion, one mapped BatchInference per partition, manifest) over 8 scoring partitions
(param ``scoring_root``): the partitions run on both workers (each worker records its
Celery hostname as the task instance's hostname), every row is predicted exactly once and
by the version pinned before the fan-out even though the alias moves mid-run, a corrupt
partition fails with its name while the others complete, and re-running it redoes nothing
else.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.cluster.fixtures import start_cluster_module  # noqa: F401 - fixture
from tests.cluster.harness import AirflowCluster
from tests.conftest import POSTGRES_HEAVY, REPO
from tests.scaleout.servers import MlflowServer

pytestmark = [pytest.mark.integration, pytest.mark.slow, POSTGRES_HEAVY]
DAG_ID = "churn_model_lifecycle"
MODEL = "dist_churn"
PARTITIONS = 8
ROWS = 20_000
BROKEN = 5
SCORE = "batch_inference"


def _churn_data() -> Any:
    """``dags/churn_example_data.py``, as the DAG imports it (the dags folder on sys.path)."""
    sys.path.insert(0, str(REPO / "dags"))
    try:
        import churn_example_data
    finally:
        sys.path.remove(str(REPO / "dags"))
    return churn_example_data


def _partition(path: Path, index: int) -> None:
    import numpy as np

    data = _churn_data()
    frame = data.draw_customers(np.random.default_rng(index), ROWS)[data.FEATURES]
    frame.insert(0, "customer_id", np.arange(index * ROWS, (index + 1) * ROWS))
    frame.to_parquet(path, index=False, row_group_size=5_000)


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory, start_cluster_module) -> Iterator[dict[str, Any]]:  # noqa: F811
    from tests.cluster.harness import services_missing
    from tests.conftest import require_service

    missing = services_missing()
    require_service(missing is None, missing or "")
    root = tmp_path_factory.mktemp("distributed")
    server = MlflowServer(root / "mlflow")
    (root / "mlflow").mkdir()
    server.start()
    conn = json.dumps({"conn_type": "mlflow_registry", "extra": {"tracking_uri": server.url, "timeout": 60}})
    saved = os.environ.get("AIRFLOW_CONN_MLFLOW_DEFAULT")
    os.environ["AIRFLOW_CONN_MLFLOW_DEFAULT"] = conn
    try:
        other = _register_other_version(root)
        cluster = start_cluster_module(REPO / "dags", workers=2, env={"AIRFLOW_CONN_MLFLOW_DEFAULT": conn})
        yield {"root": root, "server": server, "cluster": cluster, "other": other}
    finally:
        if saved is None:
            os.environ.pop("AIRFLOW_CONN_MLFLOW_DEFAULT", None)
        else:
            os.environ["AIRFLOW_CONN_MLFLOW_DEFAULT"] = saved
        server.close()


def _register_other_version(root: Path) -> dict:
    """A version 1.0.0 the alias is moved to mid-run (not champion before the run)."""
    from airflow_registry_provider.operators import LogModelOperator
    from tests.helpers import task_context

    data = _churn_data()
    paths = data.write_churn_dataset(str(root / "other"), seed=7, train_rows=2_000, scoring_rows=100)
    trained = data.train_churn_model(paths)
    return LogModelOperator(
        task_id="log_model",
        model_name=MODEL,
        model=trained["model_path"],
        version_name="1.0.0",
        sample_input=paths["sample"],
    ).execute(task_context("log_model", run_id="manual__other"))


def _scores(tis: list[dict]) -> dict[int, dict]:
    return {ti["map_index"]: ti for ti in tis if ti["task_id"] == SCORE}


def test_lifecycle_partitions_spread_over_workers_and_rerun_alone(setup: dict[str, Any]) -> None:
    import pandas as pd
    from mlflow import MlflowClient

    cluster: AirflowCluster = setup["cluster"]
    root: Path = setup["root"]
    inputs = root / "scoring"
    inputs.mkdir()
    for i in range(PARTITIONS):
        _partition(inputs / f"part-{i:04d}.parquet", i)
    broken = inputs / f"part-{BROKEN:04d}.parquet"
    broken.write_bytes(b"PAR1 this is not a parquet file")

    cluster.wait_for_dag(DAG_ID)
    conf = {"model_name": MODEL, "data_dir": str(root / "data"), "scoring_root": str(inputs)}
    run_id = cluster.trigger(DAG_ID, conf)
    # Move the alias as soon as the first partition is done: the rest must keep the pinned version.
    deadline = time.monotonic() + 600
    while not any(ti["state"] == "success" for ti in _scores(cluster.task_instances(DAG_ID, run_id)).values()):
        assert time.monotonic() < deadline, "no partition finished"
        assert cluster.run_state(DAG_ID, run_id) not in ("success", "failed"), cluster.failure_report(DAG_ID, run_id)
        time.sleep(1.0)
    pinned = cluster.xcom(DAG_ID, run_id, "pin_champion")
    assert pinned["version"] != setup["other"]["version"]
    MlflowClient(setup["server"].url).set_registered_model_alias(MODEL, "champion", setup["other"]["version"])
    moved_at = pd.Timestamp.now(tz="UTC")
    assert cluster.wait_for_run(DAG_ID, run_id, timeout=900) == "failed"

    tis = cluster.task_instances(DAG_ID, run_id)
    states = {(ti["task_id"], ti["map_index"]): ti["state"] for ti in tis}
    scores = _scores(tis)
    assert len(scores) == PARTITIONS
    assert scores[BROKEN]["state"] == "failed", cluster.failure_report(DAG_ID, run_id)
    assert all(ti["state"] == "success" for i, ti in scores.items() if i != BROKEN), cluster.failure_report(
        DAG_ID, run_id
    )
    assert states[("write_manifest", -1)] == "upstream_failed"
    assert states[("promote_version", -1)] == "success"
    assert states[("grant_model", -1)] in ("success", "skipped")  # a server without auth has no access control
    log = cluster.task_log(DAG_ID, run_id, SCORE, map_index=BROKEN)
    assert f"input_path: {str(broken)!r} is not a readable Parquet file" in log
    workers = {cluster.node(name) for name in cluster.worker_names}
    assert {ti["hostname"] for ti in scores.values()} == workers, "partitions ran on both workers"
    assert any(pd.Timestamp(ti["start_date"]) > moved_at for ti in scores.values()), "a partition ran after the move"

    # Repair the partition and re-run it alone: nothing else is redone.
    _partition(broken, BROKEN)
    (outputs,) = (root / "data" / "runs").glob("*/predictions")
    done = {i: (outputs / f"part-{i:04d}.parquet").stat().st_mtime_ns for i in scores if i != BROKEN}
    before = {key: ti["try_number"] for ti in tis if (key := (ti["task_id"], ti["map_index"])) != (SCORE, BROKEN)}
    cluster.clear(DAG_ID, run_id, [(SCORE, BROKEN), "write_manifest"])
    assert cluster.wait_for_run(DAG_ID, run_id, timeout=600) == "success", cluster.failure_report(DAG_ID, run_id)
    tis = cluster.task_instances(DAG_ID, run_id)
    after = {(ti["task_id"], ti["map_index"]): ti["try_number"] for ti in tis}
    del before[("write_manifest", -1)]
    assert {k: after[k] for k in before} == before, "only the failed partition and the manifest ran again"
    for i, mtime in done.items():
        assert (outputs / f"part-{i:04d}.parquet").stat().st_mtime_ns == mtime
    assert after[(SCORE, BROKEN)] == 2

    # Every row exactly once, all by the version pinned at the start.
    frames = [pd.read_parquet(outputs / f"part-{i:04d}.parquet") for i in range(PARTITIONS)]
    predictions = pd.concat(frames, ignore_index=True)
    assert len(predictions) == PARTITIONS * ROWS
    assert predictions["customer_id"].is_unique
    assert set(predictions["customer_id"]) == set(range(PARTITIONS * ROWS))
    assert set(predictions["model_version"].astype(str)) == {pinned["version"]}
    manifest = json.loads((outputs / "_manifest.json").read_text())
    assert manifest["rows"] == PARTITIONS * ROWS and manifest["run_id"] == run_id
    assert manifest["model_version"]["version"] == pinned["version"]
    assert [p["partition"] for p in manifest["partitions"]] == [f"part-{i:04d}" for i in range(PARTITIONS)]
    from airflow_registry_provider.partitions import sha256_path

    for entry in manifest["partitions"]:
        assert entry["output_sha256"] == sha256_path(entry["output"])
        assert entry["input_sha256"] == sha256_path(entry["input"])
