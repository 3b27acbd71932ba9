"""Score a dataset with the version under an alias (or a pinned version)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow_registry_provider.exceptions import InvalidInputError
from airflow_registry_provider.governance.lineage import file_dataset, is_location
from airflow_registry_provider.links import RegistryVersionLink
from airflow_registry_provider.operators.base import BaseRegistryOperator

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_registry_provider.model_version import ModelVersionRef


class BatchInferenceOperator(BaseRegistryOperator):
    """Batch predictions with a registered model.

    On MLflow, ``input_path`` is one partition: a Parquet file, or a folder (a prefix, a
    ``date=YYYY-MM-DD`` partition) of Parquet files scored together. Its schema is
    checked against the model's signature once, then it is streamed in record batches
    (memory bounded by ``batch_size``) through the native estimator on numpy matrices
    where the model allows, and ``output_path`` (Parquet) is written under an exclusive
    lock to a temp file renamed at the end: never interleaved with another writer, never
    left partial (see ``airflow_registry_provider.inference``). On Snowflake the input is
    a table name or query, inference runs in the warehouse and the result is saved as
    the ``output_path`` table.

    To score many partitions of one run with one version, resolve the version once and
    map this operator over the partitions (``.partial(model_version=...)
    .expand_kwargs(list_partitions(...))``, see ``airflow_registry_provider.partitions``).

    :param model_name: The model; or give ``model_version``.
    :param alias: The alias whose version scores (default ``champion``).
    :param version: A pinned version id instead of the alias.
    :param model_version: A version reference (``log_model.output``) instead of name/alias.
    :param input_path: Parquet file or folder of Parquet files (MLflow), or table/query (Snowflake).
    :param output_path: Parquet file (MLflow; its folders are created) or table (Snowflake).
    :param batch_size: Rows per batch (a positive integer).
    :param partition_column: Snowflake: partition inference by this column.
    :param prediction_column: Name of the prediction column.
    :return: (XCom) the version's reference keys at top level, ``"model_version"``: the
        reference, and ``rows``, ``output``, ``seconds`` (read, score, write) plus the
        backend's extras (MLflow: ``files``, ``scored_with`` ``numpy`` or ``dataframe``).
    """

    template_fields: Sequence[str] = (
        "registry_conn_id",
        "model_name",
        "alias",
        "version",
        "model_version",
        "input_path",
        "output_path",
        "batch_size",
        "partition_column",
        "prediction_column",
    )
    operator_extra_links = (RegistryVersionLink(),)
    ui_color = "#e8dff5"

    def __init__(
        self,
        *,
        input_path: str,
        output_path: str,
        model_name: str | None = None,
        alias: str | None = "champion",
        version: str | None = None,
        model_version: ModelVersionRef | str | None = None,
        batch_size: int | str = 100_000,
        partition_column: str | None = None,
        prediction_column: str = "prediction",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.model_name = model_name
        self.alias = alias
        self.version = version
        self.model_version = model_version
        self.input_path = input_path
        self.output_path = output_path
        self.batch_size = batch_size
        self.partition_column = partition_column
        self.prediction_column = prediction_column
        self.registry_version_url: str | None = None

    def check_inputs(self) -> None:
        super().check_inputs()
        self.batch_size = _positive_int(self.batch_size, "batch_size")
        for field in ("input_path", "output_path", "prediction_column"):
            value = getattr(self, field)
            if not isinstance(value, str) or not value.strip():
                raise InvalidInputError(field, f"give a non-empty string, not {value!r}")

    def execute(self, context: Context) -> dict[str, Any]:
        chosen = self.resolve_version(
            model_version=self.model_version, model_name=self.model_name, version=self.version, alias=self.alias
        )
        self.log.info("Scoring %s with %s version %s", self.input_path, chosen.model_name, chosen.version)
        summary = self.hook.batch_predict(
            chosen,
            self.input_path,
            self.output_path,
            batch_size=_positive_int(self.batch_size, "batch_size"),
            partition_column=self.partition_column,
            prediction_column=self.prediction_column,
        )
        self.registry_version_url = self.hook.version_url(chosen.model_name, chosen.version)
        # Paths and URIs are datasets; a Snowflake table or query is left to Snowflake's own lineage.
        self.report_lineage(
            inputs=[
                *self.version_dataset(chosen.model_name, chosen.version),
                *([file_dataset(self.input_path)] if is_location(self.input_path) else []),
            ],
            outputs=[file_dataset(self.output_path)] if is_location(self.output_path) else [],
        )
        return self.version_result(chosen, **summary)


def _positive_int(value: Any, field: str) -> int:
    """An integer parameter that may arrive rendered from a template (``"100000"``)."""
    try:
        number = int(str(value).strip()) if not isinstance(value, bool) else None
    except ValueError:
        number = None
    if number is None or number <= 0:
        raise InvalidInputError(field, f"must be a positive integer, got {value!r}")
    return number
