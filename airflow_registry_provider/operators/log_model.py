"""Register a model produced by an upstream task as a new, immutable version."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

from airflow_registry_provider import tags as tag_keys
from airflow_registry_provider.assets import (
    MODEL_EVENTS_ALIAS,
    MODEL_VERSION_EVENTS_ALIAS,
    model_asset,
    model_version_asset,
)
from airflow_registry_provider.exceptions import InvalidInputError
from airflow_registry_provider.governance.audit import parse_log
from airflow_registry_provider.governance.lineage import file_dataset
from airflow_registry_provider.links import RegistryVersionLink
from airflow_registry_provider.operators.base import (
    BaseRegistryOperator,
    as_bool,
    field_renamed,
    is_template,
    parse_mapping,
    parse_metrics,
    run_tags,
    to_json,
)

if TYPE_CHECKING:
    from airflow.sdk import Context


class LogModelOperator(BaseRegistryOperator):
    """Register a model file or MLflow model as a version, with signature, metrics and lineage.

    :param model_name: Registered model name.
    :param model: A joblib/pickle file of a scikit-learn, XGBoost or LightGBM estimator,
        or an MLflow model URI (``runs:/…``, ``models:/…``) or directory.
    :param version_name: Semantic version name, e.g. ``1.2.0``. Never overwritten: a retry
        with the same artifact returns the existing version, another artifact fails.
    :param sample_input: Parquet/CSV file of model input rows; gives the signature and the
        input example. Required unless ``allow_no_signature``.
    :param metrics: Metric name -> finite number.
    :param tags: Extra version tags.
    :param description: Version description.
    :param training_data: Paths of the training data; their sha256 goes into lineage.
    :param reference_data: Parquet file of the training features; its drift reference
        profile (quantiles, bins, frequencies) is stored with the version, so that
        DriftCheckOperator later needs only the current batch.
    :param allow_no_signature: Register without ``sample_input`` (not recommended).
    :param backend_options: Backend-specific settings, e.g. ``{"target_platforms": [...]}`` on Snowflake.
    :param registry_conn_id: Registry connection (``mlflow_registry`` or ``snowflake``).
    :return: (XCom) the model version reference keys (registry_conn_id, model_name,
        version, version_name, uri, aliases) and ``model_version`` (the same reference).
    """

    template_fields: Sequence[str] = (
        "registry_conn_id",
        "audit_conn_id",
        "model_name",
        "model",
        "version_name",
        "sample_input",
        "metrics",
        "tags",
        "description",
        "training_data",
        "reference_data",
        "backend_options",
    )
    template_fields_renderers = {"metrics": "json", "tags": "json", "backend_options": "json"}
    operator_extra_links = (RegistryVersionLink(),)
    ui_color = "#d5e8f7"

    def __init__(
        self,
        *,
        model_name: str,
        model: str,
        version_name: str,
        sample_input: str | None = None,
        metrics: Mapping[str, float] | None = None,
        tags: Mapping[str, str] | None = None,
        description: str | None = None,
        training_data: str | Sequence[str] | None = None,
        reference_data: str | None = None,
        allow_no_signature: bool = False,
        backend_options: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        outlets = list(kwargs.pop("outlets", None) or [])
        super().__init__(outlets=[*outlets, MODEL_EVENTS_ALIAS, MODEL_VERSION_EVENTS_ALIAS], **kwargs)
        self.model_name = model_name
        self.model = model
        self.version_name = version_name
        self.sample_input = sample_input
        self.metrics = metrics
        self.tags = tags
        self.description = description
        self.training_data = training_data
        self.reference_data = reference_data
        self.allow_no_signature = allow_no_signature
        self.backend_options = backend_options
        self.registry_version_url: str | None = None
        if not is_template(metrics):
            # A NaN would otherwise first fail in Airflow's rendered-field serializer, unnamed.
            self.metrics = parse_metrics(metrics)

    def check_inputs(self) -> None:
        super().check_inputs()
        self.metrics = parse_metrics(self.metrics)
        self.tags = parse_mapping(self.tags, "tags")
        self.backend_options = parse_mapping(self.backend_options, "backend_options")
        self.allow_no_signature = as_bool(self.allow_no_signature, "allow_no_signature")
        if self.training_data is not None and not isinstance(self.training_data, str | list | tuple):
            raise InvalidInputError("training_data", "give a path or a list of paths")

    def execute(self, context: Context) -> dict[str, Any]:
        package = self._package(context)
        profile = self._profile()
        version, created = self.hook.register_version(self.model_name, package)
        # A retry that finds its version registered completes what the lost attempt did
        # not write: the registration record and the drift profile (each with its record).
        # The record goes to every sink that lacks it (skip_recorded), so one the lost
        # attempt wrote to the version but not to the model log or the SQL sink is completed.
        ti = context["ti"]
        registered = [r for r in parse_log(version.tags.get(tag_keys.AUDIT_LOG)) if r.action == "register"]
        by_this_task = any((r.dag_id, r.run_id, r.task_id) == (ti.dag_id, ti.run_id, ti.task_id) for r in registered)
        trail = self.audit_trail(context)
        with trail.batch(skip_recorded=not created):
            if created or not registered or by_this_task:
                trail.record(
                    "register",
                    model=version.model_name,
                    version=version.version,
                    after={
                        "version_name": version.version_name,
                        "uri": version.uri,
                        "artifact_sha256": version.tags.get(tag_keys.ARTIFACT_SHA256),
                        "metrics": dict(package.metrics),  # a found version may come without its run's metrics
                    },
                    reason=self.description,
                    version_tags=version.tags,
                )
            if profile is not None and tag_keys.REFERENCE_PROFILE not in version.tags:
                uri = self._upload_profile(version, profile)
                trail.record(
                    "artifact",
                    model=version.model_name,
                    version=version.version,
                    after={tag_keys.REFERENCE_PROFILE: uri},
                    reason="drift reference profile",
                    version_tags=version.tags,
                    also_set={tag_keys.REFERENCE_PROFILE: tag_keys.PROFILE_ARTIFACT},  # the tag and its record
                )
        self.log.info(
            "%s version %s (%s) of %s: %s",
            "Registered" if created else "Reused",
            version.version,
            version.version_name,
            version.model_name,
            version.uri,
        )
        self.registry_version_url = self.hook.version_url(version.model_name, version.version)
        ref = version.ref(self.registry_conn_id)
        context["outlet_events"][MODEL_EVENTS_ALIAS].add(
            model_asset(self.registry_conn_id, version.model_name), extra=cast("dict[str, Any]", ref)
        )
        produced = self.version_dataset(version.model_name, version.version)
        for namespace, name in produced:
            context["outlet_events"][MODEL_VERSION_EVENTS_ALIAS].add(
                model_version_asset(namespace, name), extra=cast("dict[str, Any]", ref)
            )
        self.report_lineage(inputs=[file_dataset(p) for p in self._training_paths()], outputs=produced)
        return self.version_result(version)

    def _training_paths(self) -> list[str]:
        if not self.training_data:
            return []
        return [self.training_data] if isinstance(self.training_data, str) else list(self.training_data)

    def _profile(self) -> Any:
        """Profile the reference data before registering, so bad data registers nothing."""
        if not self.reference_data:
            return None
        from airflow_registry_provider.drift import build_profile

        if not os.path.isfile(self.reference_data):
            raise InvalidInputError("reference_data", f"file {self.reference_data!r} does not exist")
        with field_renamed("reference", "reference_data"):
            return build_profile(self.reference_data, model_name=self.model_name)

    def _upload_profile(self, version: Any, profile: Any) -> str:
        import dataclasses
        import tempfile

        profile = dataclasses.replace(profile, model_version=version.version)
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "reference_profile.json")
            with open(path, "w") as fh:
                fh.write(profile.to_json())
            uri = self.hook.upload_artifact(version.model_name, version.version, path, tag_keys.PROFILE_ARTIFACT)
        self.log.info("Stored the drift reference profile with version %s", version.version)
        return uri

    def _package(self, context: Context) -> Any:
        """Check every input before anything is written to the registry."""
        from airflow_registry_provider.artifacts import (
            check_columns,
            is_mlflow_source,
            load_model_file,
            pinned_requirements,
            read_table_file,
            sha256_file,
        )
        from airflow_registry_provider.hooks.base import ModelPackage

        hook = self.hook
        hook.validate_model_name(self.model_name)
        hook.validate_version_name(self.version_name)
        metrics = hook.validate_metrics(parse_metrics(self.metrics))
        user_tags = hook.validate_tags(self.tags or {}, "tags")
        if self.description is not None and not isinstance(self.description, str):
            raise InvalidInputError("description", f"must be a string, got {type(self.description).__name__}")
        if not isinstance(self.model, str) or not self.model:
            raise InvalidInputError("model", "give a model file path or an MLflow model URI")
        if self.sample_input is None and not self.allow_no_signature:
            raise InvalidInputError(
                "sample_input", "is required to capture the model signature (or set allow_no_signature=True)"
            )
        sample = read_table_file(self.sample_input, "sample_input") if self.sample_input else None
        estimator = source_uri = None
        if is_mlflow_source(self.model):
            source = self.hook.describe_source(self.model)
            source_uri, flavor, sha256 = self.model, source.flavor, source.sha256
        else:
            estimator, flavor = load_model_file(self.model)
            sha256 = sha256_file(self.model)
            if sample is not None:
                check_columns(estimator, sample, "sample_input")
                _score_sample(estimator, sample)
        lineage = run_tags(context)
        paths = self._training_paths()
        if paths:
            missing = [p for p in paths if not os.path.isfile(p)]
            if missing:
                raise InvalidInputError("training_data", f"files not found: {missing}")
            lineage[tag_keys.TRAINING_DATA_SHA256] = to_json({p: sha256_file(p) for p in paths})
        version_tags = {
            **user_tags,
            **lineage,
            tag_keys.VERSION_NAME: self.version_name,
            tag_keys.ARTIFACT_SHA256: sha256,
            tag_keys.FLAVOR: flavor,
        }
        return ModelPackage(
            version_name=self.version_name,
            flavor=flavor,
            artifact_sha256=sha256,
            model=estimator,
            source_uri=source_uri,
            sample_input=sample,
            pip_requirements=pinned_requirements(flavor),
            metrics=metrics,
            tags=version_tags,
            description=self.description,
            options=dict(self.backend_options or {}),
        )


def _score_sample(estimator: Any, sample: Any) -> None:
    """The estimator scores the sample, before the registry is touched (on every backend)."""
    try:
        estimator.predict(sample)
    except Exception as err:  # whatever the estimator raises on this data
        text = str(err)
        raise InvalidInputError(
            "sample_input", f"the model cannot score it: {type(err).__name__}: {text[:500]}"
        ) from err
