"""Extra links from task instances to the registry's UI.

Airflow 3 evaluates ``get_link`` in the worker right after ``execute`` and stores the
result in XCom, so the link is the URL the operator found while running.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow.sdk import BaseOperatorLink

if TYPE_CHECKING:
    from airflow.sdk import BaseOperator
    from airflow.sdk.types import TaskInstanceKey


class RegistryVersionLink(BaseOperatorLink):
    """The model version in the registry UI (MLflow server)."""

    name = "Model version"

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        return getattr(operator, "registry_version_url", None) or ""


class RegistryReportLink(BaseOperatorLink):
    """A report (e.g. drift report) stored with the model version."""

    name = "Report"

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        return getattr(operator, "registry_report_url", None) or ""
