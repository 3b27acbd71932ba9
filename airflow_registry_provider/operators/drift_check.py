"""Compare a batch with what a model was trained on, gate on drift, and leave a report."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, cast

from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from airflow_registry_provider import tags as tag_keys
from airflow_registry_provider.assets import MODEL_EVENTS_ALIAS, drift_asset
from airflow_registry_provider.exceptions import InvalidInputError
from airflow_registry_provider.links import RegistryReportLink
from airflow_registry_provider.model_version import parse_structured
from airflow_registry_provider.operators.base import BaseRegistryOperator, parse_mapping, parse_metrics, to_json

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_registry_provider.drift import ReferenceProfile
    from airflow_registry_provider.model_version import ModelVersion, ModelVersionRef


class DriftCheckOperator(BaseRegistryOperator):
    """Check ``current`` for data (and prediction) drift against a model's reference.

    :param current: Parquet file of the current batch.
    :param reference: A Parquet file of reference data, or a model version reference whose
        stored profile is used. Default: the profile of ``model_name``'s ``alias`` version.
    :param model_name: The model, when ``reference`` is not a version reference.
    :param alias: Which version's profile to use (default ``champion``).
    :param columns: Columns to check (default: all profiled).
    :param thresholds: Per-column threshold overrides.
    :param methods: Per-column method overrides (see ``airflow_registry_provider.drift.METHODS``).
    :param drift_share: Dataset drift when at least this share of columns drifts.
    :param critical_columns: Any of these drifting means dataset drift.
    :param prediction_column: Column holding predictions, checked as prediction drift.
    :param on_drift: ``fail``, ``skip`` or ``continue`` (default) when the dataset drifts.
    :param report_dir: Where the JSON and HTML reports are written (also stored with the
        model version when there is one).
    :return: (XCom) ``{"dataset_drift", "drifted_columns", "columns": {...}, "report"}``;
        when the reference is a model version, also its reference keys and
        ``model_version`` (the one XCom shape). The reports stored with the version and
        its drift summary tag are recorded in the audit trail.
    """

    template_fields: Sequence[str] = (
        "registry_conn_id",
        "audit_conn_id",
        "current",
        "reference",
        "model_name",
        "alias",
        "columns",
        "thresholds",
        "methods",
        "drift_share",
        "critical_columns",
        "prediction_column",
        "on_drift",
        "report_dir",
    )
    template_fields_renderers = {"thresholds": "json", "methods": "json"}
    operator_extra_links = (RegistryReportLink(),)
    ui_color = "#f7dcd5"

    def __init__(
        self,
        *,
        current: str,
        reference: str | ModelVersionRef | None = None,
        model_name: str | None = None,
        alias: str = "champion",
        columns: Sequence[str] | None = None,
        thresholds: Mapping[str, float] | None = None,
        methods: Mapping[str, str] | None = None,
        drift_share: float = 0.5,
        critical_columns: Sequence[str] = (),
        prediction_column: str | None = None,
        on_drift: Literal["fail", "skip", "continue"] = "continue",
        report_dir: str | None = None,
        **kwargs: Any,
    ) -> None:
        outlets = list(kwargs.pop("outlets", None) or [])
        super().__init__(outlets=[*outlets, MODEL_EVENTS_ALIAS], **kwargs)
        self.current = current
        self.reference = reference
        self.model_name = model_name
        self.alias = alias
        self.columns = columns
        self.thresholds = thresholds
        self.methods = methods
        self.drift_share = drift_share
        self.critical_columns = critical_columns
        self.prediction_column = prediction_column
        self.on_drift = on_drift
        self.report_dir = report_dir
        self.registry_report_url: str | None = None

    def check_inputs(self) -> None:
        super().check_inputs()
        if self.on_drift not in ("fail", "skip", "continue"):
            raise InvalidInputError("on_drift", f"must be fail, skip or continue, not {self.on_drift!r}")
        if not isinstance(self.current, str) or not self.current.strip():
            raise InvalidInputError("current", "give the path of the current batch (Parquet)")
        self.drift_share = _share(self.drift_share)
        self.thresholds = parse_mapping(self.thresholds, "thresholds")
        if self.thresholds:
            self.thresholds = parse_metrics(self.thresholds, "thresholds")
        self.methods = parse_mapping(self.methods, "methods")
        self.columns = _names(self.columns, "columns")
        self.critical_columns = _names(self.critical_columns, "critical_columns") or []
        if self.report_dir is not None and os.path.exists(self.report_dir) and not os.path.isdir(self.report_dir):
            raise InvalidInputError("report_dir", f"{self.report_dir!r} exists and is not a folder")

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_registry_provider.drift import check_drift, render_html

        version, reference = self._reference()
        report = check_drift(
            self.current,
            reference,
            columns=self.columns,
            thresholds=self.thresholds,
            methods=self.methods,
            drift_share=float(self.drift_share),
            critical_columns=tuple(self.critical_columns or ()),
            prediction_column=self.prediction_column,
            expected_model=version.model_name if version else None,
        )
        full = report.to_dict()
        at = datetime.now(UTC)
        report_dir = self.report_dir or tempfile.mkdtemp(prefix="drift-")
        os.makedirs(report_dir, exist_ok=True)
        stem = f"drift_{at.strftime('%Y%m%dT%H%M%S%fZ')}"
        json_path, html_path = os.path.join(report_dir, f"{stem}.json"), os.path.join(report_dir, f"{stem}.html")
        with open(json_path, "w") as fh:
            json.dump(full, fh, indent=2)
        title = f"Drift report: {version.model_name} v{version.version}" if version else "Drift report"
        with open(html_path, "w") as fh:
            fh.write(render_html(report, title=title))
        summary = {key: value for key, value in full.items() if key != "columns"}
        summary["columns"] = {
            name: {k: v for k, v in col.items() if k != "histogram"} for name, col in full["columns"].items()
        }
        summary["report"] = {"json": json_path, "html": html_path}
        if version is not None:
            self._record(context, version, full, at, json_path, html_path)
        self.log.info(
            "Dataset drift: %s; drifted columns: %s (share %.2f)",
            full["dataset_drift"],
            full["drifted_columns"],
            full.get("drift_share", 0.0),
        )
        if full["dataset_drift"]:
            if self.on_drift == "fail":
                raise AirflowFailException(f"Drift in {full['drifted_columns']}")
            if self.on_drift == "skip":
                raise AirflowSkipException(f"Drift in {full['drifted_columns']}")
        return self.version_result(version, **summary) if version is not None else summary

    def _reference(self) -> tuple[ModelVersion | None, ReferenceProfile | str]:
        """The model version (if any) and the reference: its stored profile, or raw data."""
        from airflow_registry_provider.drift import ReferenceProfile

        reference = self.reference
        if isinstance(reference, str) and not reference.lstrip().startswith("{"):
            if not os.path.isfile(reference):
                raise InvalidInputError("reference", f"file {reference!r} does not exist")
            version = self._alias_version() if self.model_name else None
            return version, reference
        if reference is not None and reference != "":
            version = self.resolve_version(model_version=reference, field="reference")
        else:
            version = self._alias_version()
        if tag_keys.REFERENCE_PROFILE not in version.tags:
            raise InvalidInputError(
                "reference",
                f"version {version.version} of {version.model_name!r} has no stored reference profile "
                "(register it with LogModelOperator(reference_data=...)) — or pass reference data",
            )
        with tempfile.TemporaryDirectory() as tmp:
            path = self.hook.download_artifact(
                version.model_name, version.version, version.tags[tag_keys.REFERENCE_PROFILE], tmp
            )
            with open(path) as fh:
                return version, ReferenceProfile.from_json(fh.read())

    def _alias_version(self) -> ModelVersion:
        if not self.model_name:
            raise InvalidInputError("model_name", "give model_name (with alias) or reference")
        return self.resolve_version(model_name=self.model_name, alias=self.alias or "")

    def _record(
        self,
        context: Context,
        version: ModelVersion,
        full: dict[str, Any],
        at: datetime,
        json_path: str,
        html_path: str,
    ) -> None:
        """Store the reports with the version; the summary tag and its audit record are one write."""
        hook = self.hook
        folder = f"drift/{at.strftime('%Y%m%dT%H%M%S%fZ')}"
        uris = {
            "json": hook.upload_artifact(version.model_name, version.version, json_path, f"{folder}/report.json"),
            "html": hook.upload_artifact(version.model_name, version.version, html_path, f"{folder}/report.html"),
        }
        self.registry_report_url = hook.artifact_url(version.model_name, version.version, f"{folder}/report.html")
        record = {
            "at": at.isoformat(),
            "dataset_drift": full["dataset_drift"],
            "drifted_columns": full["drifted_columns"],
            "report": f"{folder}/report.html",
        }
        self.audit_trail(context).record(
            "artifact",
            model=version.model_name,
            version=version.version,
            before={tag_keys.DRIFT_SUMMARY: version.tags.get(tag_keys.DRIFT_SUMMARY)},
            after={tag_keys.DRIFT_SUMMARY: record, "reports": uris},
            reason="drift check",
            version_tags=version.tags,
            also_set={tag_keys.DRIFT_SUMMARY: to_json(record)},
        )
        if full["dataset_drift"]:
            context["outlet_events"][MODEL_EVENTS_ALIAS].add(
                drift_asset(self.registry_conn_id, version.model_name),
                extra=cast("dict[str, Any]", {**record, "version": version.version}),
            )


def _share(value: Any) -> float:
    """``drift_share`` as a number in (0, 1], also when a template rendered it as text."""
    try:
        share = float(value)
    except (TypeError, ValueError):
        raise InvalidInputError("drift_share", f"must be a number in (0, 1], not {value!r}") from None
    if isinstance(value, bool) or not 0 < share <= 1:
        raise InvalidInputError("drift_share", f"must be a number in (0, 1], not {value!r}")
    return share


def _names(value: Any, field: str) -> list[str] | None:
    """Column names as a list, a JSON list or a rendered Python list; None stays None."""
    if value is None or value == "":
        return None
    if isinstance(value, str) and not value.lstrip().startswith("["):
        raise InvalidInputError(field, f"give a list of column names, e.g. [{value!r}], not a string")
    names = list(parse_structured(value, field, (list, tuple)))
    bad = [n for n in names if not isinstance(n, str) or not n]
    if bad:
        raise InvalidInputError(field, f"column names are non-empty strings, not {bad}")
    return names
