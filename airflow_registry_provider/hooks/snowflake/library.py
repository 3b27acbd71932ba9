"""The one module that uses snowflake-ml-python's private API.

Everything else in this package uses the library's public API (``Registry``, ``Model``,
``ModelVersion``) or plain SQL through Snowpark. What remains here has no public
equivalent of the same cost, and every attribute used is pinned by
``tests/snowflake/test_library_contract.py``, so an upgrade that renames or reshapes one
fails in that one named test:

* ``Model._ref`` / ``ModelVersion._ref`` (and the registry's ``_model_manager._model_ops`` /
  ``_service_ops`` they need): objects for a model or version already known to exist.
  ``Registry.get_model()`` and ``Model.version()`` would send one to four ``SHOW``
  statements to find them again.
* ``ModelOperator.set_alias`` / ``unset_alias`` / ``set_comment``: one statement each.
  The public ``ModelVersion`` methods send the same statement, but a ``ModelVersion``
  object costs two more (``SHOW VERSIONS`` and ``SHOW FUNCTIONS``) for every version an
  alias move touches.
* ``ModelVersionSQLClient.set_metadata``: the whole metadata document in one statement.
  The public ``set_metric`` re-reads and rewrites the metadata once per metric, and has
  no place for anything but metrics.
* ``ModelComposer.load``: load model files that were downloaded (``ModelVersion.export``)
  and verified against the version's manifest, so that what is unpickled is exactly what
  was checked (``ModelVersion.load()`` downloads again, after the check).
* ``env_utils``' dependency relaxation and ``INFORMATION_SCHEMA.PACKAGES`` lookup: the
  library's own rules, applied before logging; the lookup fills the library's cache, so
  its own check inside ``log_model`` sends no second query.
"""

from __future__ import annotations

import pathlib
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from snowflake.ml.model import Model, ModelVersion
    from snowflake.ml.registry import Registry
    from snowflake.snowpark import Session


class LibraryClient:
    """Lower-level operations of one ``Registry``."""

    def __init__(self, registry: Registry) -> None:
        self._registry = registry

    @property
    def _model_ops(self) -> Any:
        return self._registry._model_manager._model_ops

    @property
    def _service_ops(self) -> Any:
        return self._registry._model_manager._service_ops

    def model(self, model_name: str) -> Model:
        """The library's ``Model`` for a model known to exist (no statement)."""
        from snowflake.ml._internal.utils.sql_identifier import SqlIdentifier
        from snowflake.ml.model import Model

        return Model._ref(self._model_ops, service_ops=self._service_ops, model_name=SqlIdentifier(model_name))

    def model_version(self, model_name: str, version: str) -> ModelVersion:
        """The library's ``ModelVersion`` for a version known to exist (no statement)."""
        from snowflake.ml._internal.utils.sql_identifier import SqlIdentifier
        from snowflake.ml.model import ModelVersion

        return ModelVersion._ref(
            self._model_ops,
            service_ops=self._service_ops,
            model_name=SqlIdentifier(model_name),
            version_name=SqlIdentifier(version),
        )

    def set_alias(self, model_name: str, version: str, alias: str) -> None:
        """``ALTER MODEL … VERSION <version> SET ALIAS = <alias>``."""
        from snowflake.ml._internal.utils.sql_identifier import SqlIdentifier

        self._model_ops.set_alias(
            alias_name=SqlIdentifier(alias),
            version_name=SqlIdentifier(version),
            database_name=None,
            schema_name=None,
            model_name=SqlIdentifier(model_name),
        )

    def unset_alias(self, model_name: str, version: str) -> None:
        """``ALTER MODEL … VERSION <version> UNSET ALIAS``."""
        from snowflake.ml._internal.utils.sql_identifier import SqlIdentifier

        self._model_ops.unset_alias(
            version_or_alias_name=SqlIdentifier(version),
            database_name=None,
            schema_name=None,
            model_name=SqlIdentifier(model_name),
        )

    def set_comment(self, model_name: str, version: str, comment: str) -> None:
        """``ALTER MODEL … MODIFY VERSION <version> SET COMMENT=$$<comment>$$``."""
        from snowflake.ml._internal.utils.sql_identifier import SqlIdentifier

        self._model_ops.set_comment(
            comment=comment,
            version_name=SqlIdentifier(version),
            database_name=None,
            schema_name=None,
            model_name=SqlIdentifier(model_name),
        )

    def set_metadata(self, model_name: str, version: str, document: Mapping[str, Any]) -> None:
        """``ALTER MODEL … MODIFY VERSION … SET METADATA=$$<document>$$``."""
        from snowflake.ml._internal.utils.sql_identifier import SqlIdentifier

        self._model_ops._model_version_client.set_metadata(
            dict(document),
            database_name=None,
            schema_name=None,
            model_name=SqlIdentifier(model_name),
            version_name=SqlIdentifier(version),
        )


def load_model_files(workspace: str) -> Any:
    """The original estimator from files laid out as ``ModelVersion.export()`` writes them."""
    from snowflake.ml.model._model_composer.model_composer import ModelComposer

    return ModelComposer.load(pathlib.Path(workspace), meta_only=False).model


def relaxed_requirement(requirement: str) -> str:
    """``name==x.y.z`` relaxed the way ``log_model(options={"relax_version": True})`` relaxes it."""
    from packaging.requirements import Requirement
    from snowflake.ml._internal import env_utils

    return str(env_utils.relax_requirement_version(Requirement(requirement)))


def available_versions(session: Session, requirements: Sequence[str], python_version: str) -> dict[str, list[str]]:
    """Versions in Snowflake's Anaconda channel (``INFORMATION_SCHEMA.PACKAGES``) matching each requirement.

    One query for all of them, cached by the library for the process, which is where the
    library's own ``log_model`` looks first.
    """
    from packaging.requirements import Requirement
    from snowflake.ml._internal import env_utils

    found = env_utils.get_matched_package_versions_in_information_schema(
        session, [Requirement(r) for r in requirements], python_version
    )
    return {name: [str(v) for v in versions] for name, versions in found.items()}


__all__ = ["LibraryClient", "available_versions", "load_model_files", "relaxed_requirement"]
