"""Partitioned scoring under the CeleryExecutor with two workers, against an ``mlflow server`` on PostgreSQL.

One run of ``partitioned_scoring`` (tests/scaleout/dags) over 8 partitions: the partitions
run on both workers (recorded per task instance), every row is predicted exactly once and
by one version even though the alias moves mid-run, a corrupt partition fails with its name
while the others complete, and re-running it redoes nothing else.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.cluster.fixtures import start_cluster_module  # noqa: F401 - fixture
from tests.cluster.harness import AirflowCluster
from tests.scaleout.servers import MlflowServer

pytestmark = [pytest.mark.integration, pytest.mark.slow]
DAG_ID = "partitioned_scoring"
DAGS = Path(__file__).parent / "dags"
MODEL = "dist_churn"
PARTITIONS = 8
ROWS = 40_000
BROKEN = 5


def _partition(path: Path, index: int) -> None:
    import numpy as np
    import pandas as pd

    from tests.helpers import FEATURES

    rng = np.random.default_rng(index)
    frame = pd.DataFrame(rng.normal(size=(ROWS, len(FEATURES))), columns=FEATURES)
    frame.insert(0, "customer_id", np.arange(index * ROWS, (index + 1) * ROWS))
    frame.to_parquet(path, index=False, row_group_size=10_000)


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
        refs = _register_two_versions(root, server.url)
        cluster = start_cluster_module(DAGS, workers=2, env={"AIRFLOW_CONN_MLFLOW_DEFAULT": conn})
        yield {"root": root, "server": server, "cluster": cluster, "refs": refs}
    finally:
        if saved is None:
            os.environ.pop("AIRFLOW_CONN_MLFLOW_DEFAULT", None)
        else:
            os.environ["AIRFLOW_CONN_MLFLOW_DEFAULT"] = saved
        server.close()


def _register_two_versions(root: Path, url: str) -> list[dict]:
    from mlflow import MlflowClient

    from airflow_registry_provider import tags
    from airflow_registry_provider.operators import LogModelOperator
    from tests.helpers import make_model_files, task_context

    refs = []
    for i in range(2):
        paths = make_model_files(root, seed=i)
        ref = LogModelOperator(
            task_id="log_model",
            model_name=MODEL,
            model=paths["model"],
            version_name=f"1.0.{i}",
            sample_input=paths["sample"],
        ).execute(task_context("log_model", run_id=f"manual__v{i}"))
        refs.append(ref)
    client = MlflowClient(url)
    for ref in refs:
        client.set_model_version_tag(MODEL, ref["version"], tags.VALIDATION_STATUS, tags.VALIDATION_PASSED)
    client.set_registered_model_alias(MODEL, "champion", refs[0]["version"])
    return refs


def _scores(tis: list[dict]) -> dict[int, dict]:
    return {ti["map_index"]: ti for ti in tis if ti["task_id"] == "score"}


def test_partitions_spread_over_workers_and_rerun_alone(setup: dict[str, Any]) -> None:
    import pandas as pd
    from mlflow import MlflowClient

    cluster: AirflowCluster = setup["cluster"]
    root: Path = setup["root"]
    refs = setup["refs"]
    inputs, outputs = root / "scoring", root / "predictions"
    inputs.mkdir()
    for i in range(PARTITIONS):
        _partition(inputs / f"part-{i:04d}.parquet", i)
    broken = inputs / f"part-{BROKEN:04d}.parquet"
    broken.write_bytes(b"PAR1 this is not a parquet file")

    cluster.wait_for_dag(DAG_ID)
    conf = {"input_root": str(inputs), "output_dir": str(outputs), "model_name": MODEL, "batch_size": 10_000}
    run_id = cluster.trigger(DAG_ID, conf)
    # Move the alias as soon as the first partition is done: the rest must keep the pinned version.
    deadline = time.monotonic() + 300
    while not any(ti["state"] == "success" for ti in _scores(cluster.task_instances(DAG_ID, run_id)).values()):
        assert time.monotonic() < deadline, "no partition finished"
        assert cluster.run_state(DAG_ID, run_id) not in ("success", "failed"), cluster.failure_report(DAG_ID, run_id)
        time.sleep(1.0)
    MlflowClient(setup["server"].url).set_registered_model_alias(MODEL, "champion", refs[1]["version"])
    moved_at = pd.Timestamp.now(tz="UTC")
    assert cluster.wait_for_run(DAG_ID, run_id, timeout=600) == "failed"

    tis = cluster.task_instances(DAG_ID, run_id)
    scores = _scores(tis)
    assert len(scores) == PARTITIONS
    assert scores[BROKEN]["state"] == "failed"
    assert all(ti["state"] == "success" for i, ti in scores.items() if i != BROKEN)
    assert next(ti for ti in tis if ti["task_id"] == "manifest")["state"] == "upstream_failed"
    assert broken.name in cluster.task_log(DAG_ID, run_id, "score", map_index=BROKEN)
    workers = {cluster.node(name) for name in cluster.worker_names}
    assert {ti["hostname"] for ti in scores.values()} == workers, "partitions ran on both workers"
    assert any(pd.Timestamp(ti["start_date"]) > moved_at for ti in scores.values()), "a partition ran after the move"

    # Repair the partition and re-run it alone: nothing else is redone.
    _partition(broken, BROKEN)
    done = {
        i: (ti["try_number"], (outputs / f"part-{i:04d}.parquet").stat().st_mtime_ns)
        for i, ti in scores.items()
        if i != BROKEN
    }
    cluster.clear(DAG_ID, run_id, [("score", BROKEN), "manifest"])
    assert cluster.wait_for_run(DAG_ID, run_id, timeout=300) == "success"
    scores = _scores(cluster.task_instances(DAG_ID, run_id))
    for i, (try_number, mtime) in done.items():
        assert scores[i]["try_number"] == try_number
        assert (outputs / f"part-{i:04d}.parquet").stat().st_mtime_ns == mtime
    assert scores[BROKEN]["try_number"] == 2

    # Every row exactly once, all by the version pinned at the start.
    frames = [pd.read_parquet(outputs / f"part-{i:04d}.parquet") for i in range(PARTITIONS)]
    predictions = pd.concat(frames, ignore_index=True)
    assert len(predictions) == PARTITIONS * ROWS
    assert predictions["customer_id"].is_unique
    assert set(predictions["customer_id"]) == set(range(PARTITIONS * ROWS))
    assert set(predictions["model_version"].astype(str)) == {refs[0]["version"]}
    manifest = json.loads((outputs / "_manifest.json").read_text())
    assert manifest["rows"] == PARTITIONS * ROWS and manifest["run_id"] == run_id
    assert manifest["model_version"]["version"] == refs[0]["version"]
    assert [p["partition"] for p in manifest["partitions"]] == [f"part-{i:04d}" for i in range(PARTITIONS)]
    from airflow_registry_provider.partitions import sha256_path

    for entry in manifest["partitions"]:
        assert entry["output_sha256"] == sha256_path(entry["output"])
        assert entry["input_sha256"] == sha256_path(entry["input"])
