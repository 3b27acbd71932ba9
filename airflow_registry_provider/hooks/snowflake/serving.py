"""Inference methods of the Snowflake hook: verified local loads and warehouse runs.

Integrity rules are in ``model_files.py``; warehouse batch scoring in ``inference.py``.
"""

from __future__ import annotations

import os
import tempfile
from typing import TYPE_CHECKING, Any

from airflow_registry_provider import tags as tag_keys
from airflow_registry_provider.exceptions import InvalidInputError
from airflow_registry_provider.hooks.base import Predictor
from airflow_registry_provider.hooks.snowflake import inference, library, model_files, names
from airflow_registry_provider.hooks.snowflake.core import SnowflakeCore
from airflow_registry_provider.model_version import ModelVersion

if TYPE_CHECKING:
    import pandas as pd


class ServingMixin(SnowflakeCore):
    """``load_model``, ``download_model``, ``load_native_model``, ``predict``, ``batch_predict``."""

    # -- inference -------------------------------------------------------------------------
    def _verified(
        self, model_name: str, version: str, allow_unverified: bool
    ) -> tuple[str, str, dict[str, str] | None]:
        model_name = self.validate_model_name(model_name)
        found = self.get_version(model_name, version)
        what = f"version {found.version} of {model_name}"
        manifest = model_files.recorded_manifest(found.tags, what=what, allow_unverified=allow_unverified)
        return model_name, found.version, manifest

    def download_model(self, model_name: str, version: str, dst_dir: str, *, allow_unverified: bool = False) -> str:
        """The version's ``model/`` files in ``dst_dir`` (``ModelVersion.export`` layout), verified."""
        model_name, version, manifest = self._verified(model_name, version, allow_unverified)
        if os.path.exists(dst_dir) and (not os.path.isdir(dst_dir) or os.listdir(dst_dir)):
            raise InvalidInputError("dst_dir", f"{dst_dir!r} must be an empty folder (or not exist yet)")
        os.makedirs(dst_dir, exist_ok=True)
        with self._translated(model_name):
            return model_files.export_verified(
                self._model_version(model_name, version), dst_dir, manifest, what=f"version {version} of {model_name}"
            )

    def load_native_model(self, model_name: str, version: str, *, allow_unverified: bool = False) -> tuple[Any, str]:
        """The original estimator, from downloaded files verified against the manifest, and its flavor."""
        with tempfile.TemporaryDirectory() as workspace:
            self.download_model(model_name, version, workspace, allow_unverified=allow_unverified)
            estimator = library.load_model_files(workspace)
        tags = self.get_version(model_name, version).tags
        return estimator, tags.get(tag_keys.FLAVOR, "sklearn")

    def load_model(self, model_name: str, version: str, *, allow_unverified: bool = False) -> Predictor:
        """The original estimator, loaded in the worker after its files were verified."""
        estimator, _ = self.load_native_model(model_name, version, allow_unverified=allow_unverified)
        return estimator

    def predict(self, model_name: str, version: str, data: pd.DataFrame, *, allow_unverified: bool = False) -> Any:
        """Score in the warehouse: ``ModelVersion.run(data, function_name="predict")``."""
        model_name, version, _ = self._verified(model_name, version, allow_unverified)
        with self._translated(model_name):
            result = self._model_version(model_name, version).run(data, function_name=inference.PREDICT)
        return result.iloc[:, 0].to_numpy() if result.shape[1] == 1 else result

    def input_schema(self, model_name: str, version: str) -> list[tuple[str, str]] | None:
        model_name = self.validate_model_name(model_name)
        with self._translated(model_name):
            functions = self._model_version(model_name, names.version_id(version)).show_functions()
        predict = next((f for f in functions if f["target_method"] == inference.PREDICT), None)
        if predict is None:
            return None
        return [
            (spec.name, spec.as_snowpark_type().simple_string() if hasattr(spec, "as_snowpark_type") else "object")
            for spec in predict["signature"].inputs
        ]

    def _session_location(self) -> str:
        """Where the session resolves unqualified table names (the connection's database and schema)."""
        database = (self.session.get_current_database() or "").strip('"')
        schema = (self.session.get_current_schema() or "").strip('"')
        return f"{database}.{schema}"

    def batch_predict(
        self,
        version: ModelVersion,
        source: str,
        destination: str,
        *,
        batch_size: int = 100_000,
        partition_column: str | None = None,
        prediction_column: str = "prediction",
        allow_unverified: bool = False,
    ) -> dict[str, Any]:
        """Score a table or query in the warehouse and save the result as ``destination`` (see ``inference.py``).

        ``batch_size`` does not apply: the warehouse batches rows itself.
        """
        request = inference.BatchRequest.build(
            source,
            destination,
            prediction_column=prediction_column,
            partition_column=partition_column,
            mode=self.settings.batch_write_mode,
            session_location=self._session_location,
        )
        model_name, version_id, _ = self._verified(version.model_name, version.version, allow_unverified)
        mv = self._model_version(model_name, version_id)
        with self._translated():
            summary = inference.run_batch(self.session, mv, request, model_name=model_name, version=version_id)
        self.log.info(
            "Wrote %d predictions of %s version %s to %s", summary["rows"], model_name, version_id, request.destination
        )
        return summary
