"""MLflow's side of a copy between registries: finding a copy already made (by tag search),
and a version's estimator, signature and sample for a backend that logs it again."""

from __future__ import annotations

import os
from typing import Any

from airflow_registry_provider import copying, integrity
from airflow_registry_provider.exceptions import InvalidInputError
from airflow_registry_provider.hooks.mlflow import model_files

#: One synthesized row per MLflow column type, for a model stored without an input example.
_SYNTHETIC = {
    "boolean": False,
    "integer": 0,
    "long": 0,
    "float": 0.0,
    "double": 0.0,
    "string": "",
    "binary": b"",
    "datetime": 0,
}


def find_copy(reads: Any, model_name: str, source_digest: str) -> Any | None:
    """The lowest-numbered version of ``model_name`` whose copy-source tag is ``source_digest``.

    ``model_name`` is validated by the caller and the digest must be hex, so both are safe
    in the filter; a registered model that does not exist simply matches nothing.
    """
    if not source_digest or any(c not in "0123456789abcdef" for c in source_digest):
        raise InvalidInputError("source_digest", f"{source_digest!r} is not a CopySource digest")
    query = f"name = '{model_name}' and tags.`{copying.COPY_SOURCE}` = '{source_digest}'"
    found = reads.search_model_versions(query, max_results=10)
    return min(found, key=lambda mv: int(mv.version), default=None)


def native_source(model_dir: str, what: str) -> copying.NativeSource:
    """The estimator in a downloaded, verified model directory, with its column signature and a sample.

    Refuses (InvalidInputError naming ``model_version``) a flavor a warehouse cannot serve,
    a model without a column signature and column types Snowflake lacks, before the
    estimator is loaded.
    """
    import pandas as pd
    from mlflow.models import Model
    from mlflow.types import DataType

    mlmodel = Model.load(os.path.join(model_dir, model_files.MLMODEL))
    copying.check_warehouse_flavor(list(mlmodel.flavors), what)
    signature = mlmodel.signature
    if signature is None or not signature.inputs.has_input_names():
        raise InvalidInputError(
            "model_version", f"{what} has no signature with named input columns, which Snowflake needs"
        )
    inputs = [(str(spec.name), getattr(spec.type, "name", str(spec.type))) for spec in signature.inputs.inputs]
    copying.snowflake_feature_types(inputs)
    example = mlmodel.load_input_example(model_dir)
    frame = pd.DataFrame(example) if example is not None else pd.DataFrame({n: [_SYNTHETIC[t]] for n, t in inputs})
    sample = frame[[n for n, _ in inputs]].astype({n: DataType[t].to_pandas() for n, t in inputs})
    files_sha256 = integrity.manifest_digest(integrity.file_manifest(model_dir))
    estimator, flavor = model_files.load_native(model_dir, what)
    return copying.NativeSource(
        estimator=estimator, flavor=flavor, inputs=inputs, sample=sample, files_sha256=files_sha256
    )
