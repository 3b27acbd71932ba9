"""Registering a version in two phases.

:func:`prepare` checks everything MLflow would refuse (metric names, tag keys and values,
the description, the sample against the model or the source's signature) and saves and
fingerprints the model in a local directory: it writes nothing to the registry. Only then
:func:`write` creates the run, the logged model, its files and the version, in an order
that leaves as little as possible behind if a transient failure interrupts it (the
registered model itself comes last but one). The version's tags, including the manifest
of its stored files, are written by the same ``create_model_version`` call.
"""

from __future__ import annotations

import importlib
import os
import random
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airflow_registry_provider import integrity
from airflow_registry_provider import tags as tag_keys
from airflow_registry_provider.exceptions import InvalidInputError, VersionConflictError
from airflow_registry_provider.hooks.mlflow import model_files
from airflow_registry_provider.hooks.mlflow.lookup import registry_client
from airflow_registry_provider.hooks.mlflow.validation import MAX_RUN_NAME_LENGTH, validate_description

if TYPE_CHECKING:
    import pandas as pd
    from mlflow import MlflowClient
    from mlflow.entities.model_registry import ModelVersion as MlflowModelVersion

    from airflow_registry_provider.hooks.base import ModelPackage
    from airflow_registry_provider.hooks.mlflow.hook import MlflowRegistryHook
    from airflow_registry_provider.hooks.mlflow.settings import MlflowSettings

#: Where a manifest too long for a tag is stored, in the version's run.
MANIFEST_DIR = "airflow_registry/manifests"
_PLACEHOLDER_RUN_ID = "0" * 32  # run ids are 32 hex characters
_MESSAGE_CHARS = 500
_CREATE_COLLISION = "Model Version creation error"
_CREATE_ATTEMPTS = 5


@dataclass(frozen=True)
class StoredSource:
    """Files already in the registry's store that the new version points at."""

    source: str
    run_id: str | None
    model_id: str | None
    tags: dict[str, str] = field(default_factory=dict)  # the source version's, when it is one


@dataclass
class Prepared:
    """A version ready to be written: nothing in it can be refused by the registry any more."""

    manifest: dict[str, str]
    version_tags: dict[str, str]
    run_tags: dict[str, str]
    run_name: str
    metrics: dict[str, float]
    description: str | None
    model_dir: str | None = None  # a local MLflow model directory to upload
    stored: StoredSource | None = None
    manifest_file: bool = False  # the manifest is stored as a file in the run


def _short(err: BaseException) -> str:
    text = getattr(err, "message", None) or str(err)
    return text if len(text) <= _MESSAGE_CHARS else text[:_MESSAGE_CHARS] + "…"


def _manifest_path(manifest: dict[str, str]) -> str:
    return f"{MANIFEST_DIR}/{integrity.manifest_digest(manifest)}.json"


def _save_estimator(package: ModelPackage, workdir: str) -> str:
    """Score the sample with the estimator, then save it as an MLflow model under ``workdir``."""
    from mlflow.exceptions import MlflowException
    from mlflow.models import infer_signature

    signature = example = None
    if package.sample_input is not None:
        try:
            predictions = package.model.predict(package.sample_input)
            signature = infer_signature(package.sample_input, predictions)
        except Exception as err:  # whatever the estimator raises on this data
            raise InvalidInputError("sample_input", f"the model cannot score it: {_short(err)}") from err
        example = package.sample_input.head(5)
    options = dict(package.options)
    if package.flavor == "sklearn":
        # The estimator arrived as a pickle this pipeline wrote and trusts; keep that format
        # rather than MLflow's skops default, which rejects common estimators (e.g.
        # HistGradientBoosting) unless every internal type is listed as trusted.
        options.setdefault("serialization_format", "cloudpickle")
    flavor = importlib.import_module(f"mlflow.{package.flavor}")
    path = os.path.join(workdir, "model")
    try:
        flavor.save_model(
            package.model,
            path,
            signature=signature,
            input_example=example,
            pip_requirements=package.pip_requirements or None,
            **options,
        )
    except TypeError as err:
        field_name = "backend_options" if "keyword argument" in str(err) else "model"
        raise InvalidInputError(field_name, f"MLflow cannot save the model: {_short(err)}") from err
    except (MlflowException, ValueError) as err:
        raise InvalidInputError("model", f"MLflow cannot save the model: {_short(err)}") from err
    return path


def _check_sample(model_dir: str, sample: pd.DataFrame | None) -> None:
    """The sample fits the stored model's signature (column names and types)."""
    from mlflow.exceptions import MlflowException
    from mlflow.models import Model, validate_schema

    if sample is None:
        return
    signature = Model.load(os.path.join(model_dir, model_files.MLMODEL)).signature
    if signature is None:
        return
    try:
        validate_schema(sample, signature.inputs)
    except MlflowException as err:
        raise InvalidInputError("sample_input", f"does not fit the model's signature: {_short(err)}") from err


def _stored_source(client: MlflowClient, uri: str, *, local_store: bool) -> StoredSource:
    """What a version made from ``runs:/…`` or ``models:/…`` points at."""
    if uri.startswith("runs:/"):
        return StoredSource(uri, uri.removeprefix("runs:/").split("/", 1)[0], None)
    path = uri.removeprefix("models:/")
    recorded: dict[str, str] = {}
    source: str = uri
    run_id: str | None = None
    model_id: str | None = None
    if path.startswith("m-"):
        model_id = path
    else:
        name, at, alias = path.partition("@")
        if at:
            ref = client.get_model_version_by_alias(name, alias)
        else:
            name, _, version = path.partition("/")
            ref = client.get_model_version(name, version)
        source, run_id, recorded = str(ref.source), ref.run_id, dict(ref.tags)
        # MLflow 3 versions point at a logged model (source models:/m-…); REST responses may
        # leave model_id out, the source carries it.
        model_id = getattr(ref, "model_id", None) or (
            source.removeprefix("models:/") if source.startswith("models:/m-") else None
        )
    if model_id is not None:
        logged = client.get_logged_model(model_id)
        run_id = run_id or logged.source_run_id
        if local_store:
            # A local SQL registry resolves models:/m-… through the process-global tracking URI
            # (mlflow's sqlalchemy_store.create_model_version); give it the files' location instead.
            source, model_id = logged.artifact_location, None
    return StoredSource(source, run_id, model_id, recorded)


def _stage_stored(hook: MlflowRegistryHook, client: MlflowClient, uri: str, workdir: str) -> tuple[StoredSource, str]:
    """Resolve a stored source and download its files (verified when it is a version with a manifest)."""
    with model_files.source_errors(uri):
        stored = _stored_source(client, uri, local_store=not hook.is_server)
        local = model_files.download(client, stored.source, os.path.join(workdir, "source"), hook.settings)
    what = f"source {uri}"
    recorded = integrity.recorded_manifest(
        stored.tags, what=what, fetch=lambda text_uri: model_files.read_text(client, text_uri, hook.settings)
    )
    if recorded is not None:
        integrity.verify_files(local, recorded, what=what)
    return stored, local


def _create_model_version(client: MlflowClient, model_name: str, **kwargs: Any) -> MlflowModelVersion:
    """``create_model_version``, converging on one version per version name.

    MLflow numbers versions MAX+1 and gives up when concurrent creations keep colliding
    (mlflow/mlflow#22635): nothing was created then, so it is retried. Its HTTP client
    also retries a POST whose response was lost, which can create the version twice; the
    lowest-numbered version with this version name is kept and any later one removed.
    """
    from mlflow.exceptions import MlflowException

    for attempt in range(_CREATE_ATTEMPTS):
        try:
            mv = client.create_model_version(name=model_name, **kwargs)
            break
        except MlflowException as err:
            if _CREATE_COLLISION not in str(err) or attempt == _CREATE_ATTEMPTS - 1:
                raise
            time.sleep(random.uniform(0.05, 0.25) * (attempt + 1))  # noqa: S311 - jitter, not a secret
    version_name = kwargs["tags"].get(tag_keys.VERSION_NAME)
    if version_name is None:
        return mv
    query = f"name = '{model_name}' and tags.`{tag_keys.VERSION_NAME}` = '{version_name}'"
    first = min(client.search_model_versions(query), key=lambda found: int(found.version), default=mv)
    if int(first.version) >= int(mv.version):
        return mv
    registry_client(client).delete_model_version(model_name, str(mv.version))
    if first.tags.get(tag_keys.ARTIFACT_SHA256) != mv.tags.get(tag_keys.ARTIFACT_SHA256):
        raise VersionConflictError(
            "version_name",
            f"{version_name!r} of model {model_name!r} was registered at the same time with another artifact "
            f"(version {first.version}); versions are never overwritten, choose a new version_name",
        )
    return first


def _experiment_id(client: MlflowClient, settings: MlflowSettings) -> str:
    experiment = client.get_experiment_by_name(settings.experiment_name)
    if experiment is not None:
        return experiment.experiment_id
    return client.create_experiment(settings.experiment_name, artifact_location=settings.default_artifact_location())


def prepare(
    hook: MlflowRegistryHook, client: MlflowClient, model_name: str, package: ModelPackage, workdir: str
) -> Prepared:
    """Check and stage ``package``; nothing is written to the registry."""
    metrics = hook.validate_metrics(package.metrics, "metrics")
    description = validate_description(package.description)
    user_tags = hook.validate_tags(package.tags, "tags")
    stored = None
    model_dir: str | None = None
    if package.model is not None:
        model_dir = _save_estimator(package, workdir)
        manifest = integrity.file_manifest(model_dir)
    elif package.source_uri is not None and os.path.isdir(package.source_uri):
        model_dir = package.source_uri
        _check_sample(model_dir, package.sample_input)
        manifest = integrity.file_manifest(model_dir)
    elif package.source_uri is not None:
        stored, local = _stage_stored(hook, client, package.source_uri, workdir)
        _check_sample(local, package.sample_input)
        manifest = integrity.file_manifest(local)
    else:
        raise InvalidInputError("model", "give a model or a source URI")
    manifest_file = len(integrity.manifest_text(manifest)) > hook.max_version_tag_length
    stored_at = f"runs:/{_PLACEHOLDER_RUN_ID}/{_manifest_path(manifest)}" if manifest_file else None
    version_tags = {**user_tags, **hook.validate_tags(integrity.manifest_tags(manifest, stored_at), "tags")}
    return Prepared(
        manifest=manifest,
        version_tags=version_tags,
        run_tags={k: v for k, v in user_tags.items() if k != tag_keys.VERSION_NAME},
        run_name=f"{model_name}-{package.version_name}"[:MAX_RUN_NAME_LENGTH],
        metrics=metrics,
        description=description,
        model_dir=model_dir,
        stored=stored,
        manifest_file=manifest_file,
    )


def _upload(
    hook: MlflowRegistryHook, client: MlflowClient, experiment_id: str, run_id: str, model_dir: str
) -> tuple[str, str | None, str]:
    """Store ``model_dir`` as a logged model of the run: (version source, version model_id, logged model id)."""
    from mlflow.entities import LoggedModelOutput, LoggedModelStatus

    logged = client.create_logged_model(experiment_id, name="model", source_run_id=run_id)
    client.log_model_artifacts(logged.model_id, model_dir)
    client.finalize_logged_model(logged.model_id, LoggedModelStatus.READY)
    client.log_outputs(run_id, [LoggedModelOutput(logged.model_id, step=0)])
    if hook.is_server:
        return f"models:/{logged.model_id}", logged.model_id, logged.model_id
    return logged.artifact_location, None, logged.model_id  # see _stored_source


def write(
    hook: MlflowRegistryHook, client: MlflowClient, model_name: str, prepared: Prepared, log: Any
) -> MlflowModelVersion:
    """Create the run, the logged model and its files, then the version with all its tags."""
    from mlflow.entities import Metric
    from mlflow.exceptions import MlflowException

    experiment_id = _experiment_id(client, hook.settings)
    stored = prepared.stored
    run_id = stored.run_id if stored is not None else None
    # A run of our own holds uploaded files, and metrics or a long manifest of a source without one.
    created_run = run_id is None and (stored is None or bool(prepared.metrics) or prepared.manifest_file)
    if created_run:
        run_id = client.create_run(experiment_id, run_name=prepared.run_name, tags=prepared.run_tags).info.run_id
    metrics_model_id: str | None
    if stored is None:
        assert prepared.model_dir is not None
        assert run_id is not None
        source, model_id, metrics_model_id = _upload(hook, client, experiment_id, run_id, prepared.model_dir)
    else:
        source, model_id = stored.source, stored.model_id
        metrics_model_id = model_id
    version_tags = dict(prepared.version_tags)
    if prepared.manifest_file:
        assert run_id is not None
        path = _manifest_path(prepared.manifest)
        client.log_text(run_id, integrity.manifest_text(prepared.manifest), path)
        version_tags[tag_keys.MODEL_MANIFEST] = f"runs:/{run_id}/{path}"
    if prepared.metrics and run_id is not None:
        now = int(time.time() * 1000)
        metrics = [Metric(key, value, now, 0, model_id=metrics_model_id) for key, value in prepared.metrics.items()]
        client.log_batch(run_id, metrics=metrics)
    if created_run and run_id is not None:
        client.set_terminated(run_id)
    try:
        client.create_registered_model(model_name)
    except MlflowException as err:
        if err.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
    mv = _create_model_version(
        client,
        model_name,
        source=source,
        run_id=run_id,
        tags=version_tags,
        description=prepared.description,
        model_id=model_id,
    )
    log.info(
        "Recorded the sha256 manifest of %d stored model files with version %s", len(prepared.manifest), mv.version
    )
    return mv
