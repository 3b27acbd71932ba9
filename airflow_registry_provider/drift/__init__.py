"""Data and prediction drift: a pure engine with no Airflow imports.

Profile the reference once, store the small JSON, check each batch against it::

    profile = build_profile("reference.parquet", model_name="churn", model_version="3")
    text = profile.to_json()
    report = check_drift("batch.parquet", ReferenceProfile.from_json(text))
    report.to_dict()["dataset_drift"]
    html = render_html(report)

See ``docs/drift.md`` for the methods, their defaults and the profile's error bound.
"""

from airflow_registry_provider.drift.engine import DEFAULT_METHODS, METHODS, check_drift
from airflow_registry_provider.drift.profile import (
    CategoricalProfile,
    NumericProfile,
    ReferenceProfile,
    build_profile,
)
from airflow_registry_provider.drift.render import render_html
from airflow_registry_provider.drift.report import ColumnResult, DriftReport, Histogram

__all__ = [
    "DEFAULT_METHODS",
    "METHODS",
    "CategoricalProfile",
    "ColumnResult",
    "DriftReport",
    "Histogram",
    "NumericProfile",
    "ReferenceProfile",
    "build_profile",
    "check_drift",
    "render_html",
]
