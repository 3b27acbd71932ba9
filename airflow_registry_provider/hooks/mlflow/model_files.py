"""A version's stored model files: downloaded, checked against the manifest recorded at
registration, and only then loaded.

Files are always copied into a directory of our own before they are checked (also from
a local artifact store), so what is loaded is exactly what was verified.
"""

from __future__ import annotations

import importlib
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from airflow_registry_provider import integrity
from airflow_registry_provider import tags as tag_keys
from airflow_registry_provider.artifacts import FILE_FLAVORS
from airflow_registry_provider.exceptions import IntegrityError, InvalidInputError, UnsupportedOperationError
from airflow_registry_provider.hooks.mlflow import errors
from airflow_registry_provider.hooks.mlflow.lookup import registry_client

if TYPE_CHECKING:
    from mlflow.entities.model_registry import ModelVersion as MlflowModelVersion

    from airflow_registry_provider.hooks.mlflow.settings import MlflowSettings

MLMODEL = "MLmodel"


def describe(mv: MlflowModelVersion) -> str:
    """How errors name a version: ``version 3 of 'churn'``."""
    return f"version {mv.version} of {mv.name!r}"


def artifact_location(client: Any, uri: str) -> str:
    """Where a ``models:/…`` URI's files are; other URIs as they are.

    MLflow's own resolution of ``models:/`` URIs (``ModelsArtifactRepository``) asks the
    process-global registry URI, whatever tracking URI it is given; this asks ``client``.
    """
    if not uri.startswith("models:/"):
        return uri
    path = uri.removeprefix("models:/")
    if path.startswith("m-"):
        model_id, _, rest = path.partition("/")
        base = client.get_logged_model(model_id).artifact_location
    else:
        name, at, alias_rest = path.partition("@")
        if at:
            alias, _, rest = alias_rest.partition("/")
            version = client.get_model_version_by_alias(name, alias).version
        else:
            name, _, version_rest = path.partition("/")
            version, _, rest = version_rest.partition("/")
        base = registry_client(client).get_model_version_download_uri(name, str(version))
    return f"{base.rstrip('/')}/{rest}" if rest else base


def download(client: Any, uri: str, dst_dir: str, settings: MlflowSettings) -> str:
    """Download an artifact URI (file or directory) into ``dst_dir``; return the local path."""
    import mlflow.artifacts

    return mlflow.artifacts.download_artifacts(
        artifact_uri=artifact_location(client, uri),
        dst_path=dst_dir,
        tracking_uri=settings.tracking_uri,
        registry_uri=settings.registry_uri,
    )


@contextmanager
def source_errors(uri: str) -> Iterator[None]:
    """A model URI that names nothing (no such model, version, alias, run or file) is the user's error.

    Anything else (server down, 5xx) is raised as it is, to be retried.
    """
    from mlflow.exceptions import MlflowException

    try:
        yield
    except MlflowException as err:
        if errors.error_code(err) not in (errors.RESOURCE_DOES_NOT_EXIST, errors.INVALID_PARAMETER_VALUE):
            raise
        raise InvalidInputError("model", f"cannot fetch MLflow model {uri!r}: {err.message}") from err
    except FileNotFoundError as err:
        raise InvalidInputError("model", f"cannot fetch MLflow model {uri!r}: {err}") from err


def read_text(client: Any, uri: str, settings: MlflowSettings) -> str:
    with tempfile.TemporaryDirectory(prefix="arp-manifest-") as tmp, open(download(client, uri, tmp, settings)) as fh:
        return fh.read()


def version_manifest(
    client: Any, mv: MlflowModelVersion, settings: MlflowSettings, *, allow_unverified: bool, log: Any
) -> dict[str, str] | None:
    """The manifest of ``mv``; None only for a version without one when ``allow_unverified``."""
    manifest = integrity.recorded_manifest(
        mv.tags, what=describe(mv), fetch=lambda uri: read_text(client, uri, settings)
    )
    if manifest is not None:
        return manifest
    if not allow_unverified:
        raise IntegrityError(
            f"{describe(mv)} has no model manifest ({tag_keys.MODEL_MANIFEST}): it was registered before "
            "integrity checks, so its files cannot be verified; nothing was loaded. Pass allow_unverified=True "
            "to load it anyway, or register it again"
        )
    log.warning(
        "Loading %s without verifying its files: it has no model manifest (allow_unverified=True)", describe(mv)
    )
    return None


def download_verified(
    client: Any,
    mv: MlflowModelVersion,
    dst_dir: str,
    settings: MlflowSettings,
    *,
    allow_unverified: bool,
    log: Any,
) -> str:
    """Download every stored file of ``mv`` into a new directory under ``dst_dir`` and verify them.

    Returns the model directory. Raises :class:`IntegrityError` naming the version and
    the file when a file differs from the manifest (or is missing, or is not in it).
    """
    manifest = version_manifest(client, mv, settings, allow_unverified=allow_unverified, log=log)
    uri = registry_client(client).get_model_version_download_uri(mv.name, str(mv.version))
    os.makedirs(dst_dir, exist_ok=True)
    local = download(client, uri, tempfile.mkdtemp(prefix=f"v{mv.version}-", dir=dst_dir), settings)
    if manifest is not None:
        integrity.verify_files(local, manifest, what=describe(mv))
    return local


def signature_columns(
    client: Any, mv: MlflowModelVersion, settings: MlflowSettings, *, log: Any
) -> list[tuple[str, str]] | None:
    """The input columns of ``mv``'s signature, read from its verified ``MLmodel`` file alone.

    A version without a manifest is read unverified: MLmodel is YAML, loaded safely, and
    whatever loads the model afterwards enforces ``allow_unverified``.
    """
    from mlflow.models import Model

    manifest = version_manifest(client, mv, settings, allow_unverified=True, log=log)
    uri = registry_client(client).get_model_version_download_uri(mv.name, str(mv.version))
    with tempfile.TemporaryDirectory(prefix="arp-mlmodel-") as tmp:
        path = download(client, f"{uri.rstrip('/')}/{MLMODEL}", tmp, settings)
        if manifest is not None:
            integrity.verify_file(path, MLMODEL, manifest, what=describe(mv))
        signature = Model.load(path).signature
    if signature is None or not signature.inputs.has_input_names():
        return None
    return [(spec.name, getattr(spec.type, "name", str(spec.type))) for spec in signature.inputs.inputs]


def load_pyfunc(model_dir: str) -> Any:
    import mlflow.pyfunc

    return mlflow.pyfunc.load_model(model_dir)


def load_native(model_dir: str, what: str) -> tuple[Any, str]:
    """The library's own estimator stored in ``model_dir`` and its flavor."""
    from mlflow.models import Model

    flavors = Model.load(os.path.join(model_dir, MLMODEL)).flavors
    flavor = next((f for f in FILE_FLAVORS.values() if f in flavors), None)
    if flavor is None:
        raise UnsupportedOperationError(
            "model_version",
            f"{what} has flavors {sorted(flavors)}; a native estimator is loaded only for "
            f"{', '.join(sorted(FILE_FLAVORS.values()))}",
        )
    return importlib.import_module(f"mlflow.{flavor}").load_model(model_dir), flavor
