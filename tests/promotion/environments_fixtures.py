"""Four sqlite MLflow registries (DEV, SIT, UAT, PRD) behind ``AIRFLOW_CONN_*`` variables, an
environments file for them, and builders for versions and labelled data."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from sklearn.linear_model import LogisticRegression

from airflow_registry_provider import tags
from airflow_registry_provider.artifacts import pinned_requirements
from airflow_registry_provider.exceptions import ModelNotFoundError
from airflow_registry_provider.hooks.base import ModelPackage
from airflow_registry_provider.hooks.mlflow import MlflowRegistryHook
from tests.cluster.harness import AirflowCluster, ClusterConfig, services_missing
from tests.conftest import REPO, require_service
from tests.helpers import FEATURES, make_data

ENVIRONMENTS = ("DEV", "SIT", "UAT", "PRD")
MODEL = "churn"
THRESHOLDS = {"accuracy": ">= 0.8"}


def connection_env(uris: dict[str, str]) -> dict[str, str]:
    """``AIRFLOW_CONN_MLFLOW_<ENV>`` for each registry URI."""
    return {
        f"AIRFLOW_CONN_MLFLOW_{env}": json.dumps({"conn_type": "mlflow_registry", "extra": {"tracking_uri": uri}})
        for env, uri in uris.items()
    }


def environments_document(fresh_data: str, approvers: list[str]) -> dict[str, Any]:
    """DEV -> SIT -> UAT -> PRD; PRD needs approval and re-checks the new champion on ``fresh_data``."""
    checks = {"thresholds": THRESHOLDS}
    envs: dict[str, Any] = {
        "DEV": {"registry_conn_id": "mlflow_dev", "model_name": MODEL, "next": ["SIT"]},
        "SIT": {"registry_conn_id": "mlflow_sit", "model_name": MODEL, "checks": checks, "next": ["UAT"]},
        "UAT": {
            "registry_conn_id": "mlflow_uat",
            "model_name": MODEL,
            "checks": {**checks, "compare_to": "champion"},
            "grants": {"DATA_SCIENTIST": "READ"},
            "next": ["PRD"],
        },
        "PRD": {
            "registry_conn_id": "mlflow_prd",
            "model_name": MODEL,
            "checks": checks,  # the logged metrics: a version may pass here and fail on fresh data
            "approval": {"required": True, "approvers": approvers},
            "grants": {"ML_ENGINEER": "USAGE"},
            "post_promotion_check": {**checks, "data": fresh_data, "label_column": "label"},
        },
    }
    return {"environments": envs}


@dataclass
class Registries:
    """The four registries of one test setup."""

    root: Path
    uris: dict[str, str]
    environments_file: Path
    fresh_data: Path
    _seeds: list[int] = field(default_factory=list)

    def hook(self, env: str) -> MlflowRegistryHook:
        return MlflowRegistryHook(f"mlflow_{env.lower()}")

    def register(
        self,
        env: str,
        version_name: str,
        *,
        good: bool = True,
        champion: bool = True,
        status: str | None = "passed",
        model_name: str = MODEL,
    ) -> str:
        """Register a scikit-learn version (``good=False``: trained on flipped labels, so it fails
        on real data while claiming accuracy 0.95); return its version id."""
        frame = make_data(seed=len(self._seeds))
        self._seeds.append(1)
        labels = frame["label"] if good else 1 - frame["label"]
        model = LogisticRegression().fit(frame[FEATURES], labels)
        package = ModelPackage(
            version_name=version_name,
            flavor="sklearn",
            artifact_sha256=f"sha-{env}-{version_name}",
            model=model,
            sample_input=frame[FEATURES].head(5),
            pip_requirements=pinned_requirements("sklearn"),
            metrics={"accuracy": 0.95},
            tags={tags.VERSION_NAME: version_name, tags.ARTIFACT_SHA256: f"sha-{env}-{version_name}"},
        )
        hook = self.hook(env)
        version, _ = hook.register_version(model_name, package)
        if status:
            hook.set_version_tags(model_name, version.version, {tags.VALIDATION_STATUS: status})
        if champion:
            hook.set_alias(model_name, "champion", version.version)
        return version.version

    def champion(self, env: str) -> str | None:
        try:
            found = self.hook(env).get_alias_version(MODEL, "champion")
        except ModelNotFoundError:  # nothing registered there yet
            return None
        return found.version if found else None

    def versions(self, env: str) -> list[Any]:
        return list(self.hook(env).iter_versions(MODEL))


def make_registries(root: Path, approvers: list[str]) -> Registries:
    uris = {}
    for env in ENVIRONMENTS:
        (root / env).mkdir(parents=True)
        uris[env] = f"sqlite:///{root / env / 'mlflow.db'}"
    fresh = root / "fresh.parquet"
    make_data(300, seed=77).to_parquet(fresh, index=False)
    file = root / "environments.yml"
    file.write_text(yaml.safe_dump(environments_document(str(fresh), approvers), sort_keys=False))
    return Registries(root, uris, file, fresh)


@pytest.fixture
def registries(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Registries:
    """Four empty registries with their connections set, and the environments file (approver alice)."""
    found = make_registries(tmp_path / "registries", ["alice"])
    for key, value in connection_env(found.uris).items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("ARP_ENVIRONMENTS_FILE", str(found.environments_file))
    return found


CLUSTER_DAGS = ("environment_promotion", "dev_champion", "probe", "wait_for_version")


class _Cluster(AirflowCluster):
    """Calls without a user are made as ``admin``: with users configured, Airflow wants a token."""

    def api(self, method: str, path: str, body: Any = None, *, user: str | None = None) -> Any:
        return super().api(method, path, body, user=user or "admin")


@pytest.fixture(scope="module")  # stopped after each module: PostgreSQL connections are shared
def promotion_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[AirflowCluster, Registries]]:
    """A real Airflow (api-server, scheduler, dag-processor, triggerer, one Celery worker with
    one slot) running environment_promotion on four sqlite registries; users admin, alice
    (the PRD approver) and mallory, and no all-admins mode: ``assigned_users`` is enforced."""
    missing = services_missing()
    require_service(missing is None, missing or "")
    root = tmp_path_factory.mktemp("promotion-cluster")
    found = make_registries(root / "registries", ["alice"])
    dags = root / "dags"
    dags.mkdir()
    shutil.copy(REPO / "dags" / "environment_promotion.py", dags)
    shutil.copy(Path(__file__).parent / "cluster_dags" / "promotion_helpers.py", dags)
    config = ClusterConfig(
        dags,
        workers=1,
        worker_concurrency=1,
        triggerer=True,
        users={"admin": "admin", "alice": "admin", "mallory": "admin"},
        env={**connection_env(found.uris), "ARP_ENVIRONMENTS_FILE": str(found.environments_file)},
    )
    cluster = _Cluster(root / "cluster", config)
    try:
        cluster.start()
        for dag_id in CLUSTER_DAGS:
            cluster.wait_for_dag(dag_id)
        yield cluster, found
    finally:
        cluster.stop()


@pytest.fixture
def deployment(promotion_cluster: tuple[AirflowCluster, Registries], monkeypatch: pytest.MonkeyPatch) -> Any:
    """The promotion cluster, with this process's connections pointing at its registries."""
    found = promotion_cluster[1]
    for key, value in connection_env(found.uris).items():
        monkeypatch.setenv(key, value)
    return promotion_cluster
