"""The snowflake-ml-python and Snowpark API the Snowflake hook relies on, pinned.

``airflow_registry_provider/hooks/snowflake/library.py`` is the one module that uses the
library's private API; every private attribute it uses is one case of
:func:`test_private_api_used_by_library_py`, so an upgrade that renames or reshapes one
fails here, by name. The dependency range (``snowflake-ml-python>=2.6,<2.7``) is capped at
the minor versions this file was checked against.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from typing import Any

import pytest
from packaging.version import Version

from airflow_registry_provider.hooks.snowflake import SnowflakeRegistryHook, library, metadata
from tests.conftest import REPO
from tests.snowflake.session_double import SnowflakeDouble

#: The snowflake-ml-python versions this contract was checked against (the pyproject range).
COVERED = (Version("2.6"), Version("2.7"))
PRIVATE = re.compile(
    r"\._internal\b|\._model_manager\b|\._model_ops\b|\._service_ops\b|\._ref\(|_model_composer|env_utils"
)


def parameters(function: Callable[..., Any]) -> dict[str, inspect.Parameter]:
    return dict(inspect.signature(function).parameters)


def accepts(function: Callable[..., Any], *names: str, keyword_only: bool = False) -> None:
    found = parameters(function)
    missing = [name for name in names if name not in found]
    assert not missing, f"{function.__qualname__} no longer takes {missing}"
    if keyword_only:
        assert all(found[name].kind is inspect.Parameter.KEYWORD_ONLY for name in names)


def test_library_version_is_within_the_range_this_contract_covers() -> None:
    from snowflake.ml.version import VERSION

    low, high = COVERED
    assert low <= Version(VERSION) < high, f"re-check this file and docs/snowflake.md for snowflake-ml-python {VERSION}"


def test_only_library_py_touches_the_private_api() -> None:
    package = REPO / "airflow_registry_provider" / "hooks" / "snowflake"
    offenders = [
        f"{path.name}:{number}"
        for path in sorted(package.glob("*.py"))
        if path.name != "library.py"
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if PRIVATE.search(line)
    ]
    assert offenders == []


def _model_ref() -> None:
    from snowflake.ml.model import Model

    accepts(Model._ref, "model_ops", "service_ops", "model_name")


def _model_version_ref() -> None:
    from snowflake.ml.model import ModelVersion

    accepts(ModelVersion._ref, "model_ops", "service_ops", "model_name", "version_name")


def _sql_identifier() -> None:
    from snowflake.ml._internal.utils.sql_identifier import SqlIdentifier

    assert SqlIdentifier("churn").identifier() == "CHURN"
    assert SqlIdentifier("V1_2_0").resolved() == "V1_2_0"


def _single_statement_operations() -> None:
    from snowflake.ml.model._client.ops.model_ops import ModelOperator

    ids = ("database_name", "schema_name", "model_name")
    accepts(ModelOperator.set_alias, "alias_name", "version_name", *ids, keyword_only=True)
    accepts(ModelOperator.unset_alias, "version_or_alias_name", *ids, keyword_only=True)
    accepts(ModelOperator.set_comment, "comment", "version_name", *ids, keyword_only=True)


def _set_metadata() -> None:
    from snowflake.ml.model._client.ops.model_ops import ModelOperator
    from snowflake.ml.model._client.sql.model_version import ModelVersionSQLClient

    assert "_model_version_client" in inspect.getsource(ModelOperator.__init__)
    accepts(ModelVersionSQLClient.set_metadata, "metadata_dict")
    accepts(ModelVersionSQLClient.set_metadata, "database_name", "schema_name", "model_name", "version_name")
    # Why set_metadata refuses '$$': the library sends the document inside an unescaped $$ literal.
    assert "METADATA=$${json_metadata}$$" in inspect.getsource(ModelVersionSQLClient.set_metadata)


def _metadata_layout() -> None:
    from snowflake.ml.model._client.ops import metadata_ops

    assert metadata_ops.MODEL_VERSION_METADATA_SCHEMA_VERSION == metadata.SCHEMA_VERSION
    assert metadata.METRICS_KEY in metadata_ops.ModelVersionMetadataSchema.__annotations__


def _model_composer_load() -> None:
    from snowflake.ml.model._model_composer.model_composer import ModelComposer

    accepts(ModelComposer.load, "workspace_path", "meta_only", "options")
    assert ModelComposer.MODEL_DIR_REL_PATH == "model"  # model_files.MODEL_DIR: what export(MODEL) writes


def _relax_requirement() -> None:
    from packaging.requirements import Requirement

    relaxed = Requirement(library.relaxed_requirement("scikit-learn==1.9.1"))
    assert relaxed.name == "scikit-learn"
    assert relaxed.specifier.contains("1.9.1")
    assert relaxed.specifier.contains("1.9.7")  # a later patch of the channel will do


def _package_lookup() -> None:
    from snowflake.ml._internal import env_utils

    accepts(env_utils.get_matched_package_versions_in_information_schema, "session", "reqs", "python_version")
    # The cache log_model looks in first: filled by our one query.
    assert isinstance(env_utils._SNOWFLAKE_INFO_SCHEMA_PACKAGE_CACHE, dict)


PRIVATE_API: dict[str, Callable[[], None]] = {
    "Model._ref": _model_ref,
    "ModelVersion._ref": _model_version_ref,
    "sql_identifier.SqlIdentifier": _sql_identifier,
    "ModelVersionSQLClient.set_metadata": _set_metadata,
    "ModelOperator.set_alias/unset_alias/set_comment": _single_statement_operations,
    "metadata_ops schema version and metrics key": _metadata_layout,
    "ModelComposer.load": _model_composer_load,
    "env_utils.relax_requirement_version": _relax_requirement,
    "env_utils package lookup and cache": _package_lookup,
}


@pytest.mark.parametrize("attribute", sorted(PRIVATE_API))
def test_private_api_used_by_library_py(attribute: str) -> None:
    PRIVATE_API[attribute]()


def test_the_registry_exposes_its_operators(snowflake_double: SnowflakeDouble) -> None:
    """``Registry._model_manager._model_ops`` / ``._service_ops``, which the ``_ref`` constructors need."""
    from snowflake.ml.model._client.ops.model_ops import ModelOperator
    from snowflake.ml.model._client.ops.service_ops import ServiceOperator

    with SnowflakeRegistryHook() as hook:
        manager = hook.registry._model_manager
        assert isinstance(manager._model_ops, ModelOperator)
        assert isinstance(manager._service_ops, ServiceOperator)


def test_public_registry_api() -> None:
    from snowflake.ml.registry import Registry

    accepts(Registry.__init__, "session", "database_name", "schema_name", "options")
    accepts(
        Registry.log_model,
        "model_name",
        "version_name",
        "comment",
        "conda_dependencies",
        "pip_requirements",
        "target_platforms",
        "sample_input_data",
        "options",
        keyword_only=True,
    )
    # log_model(options={"save_location": ...}) keeps the serialized files: their manifest.
    assert "save_location" in inspect.getsource(Registry.log_model)


def test_public_model_api() -> None:
    from snowflake.ml.model import Model, ModelVersion

    assert isinstance(Model.default, property)
    assert Model.default.fset is not None
    accepts(Model.set_tag, "tag_name", "tag_value")
    accepts(Model.show_tags)
    accepts(Model.show_versions)
    accepts(Model.delete_version, "version_name")
    accepts(ModelVersion.run, "X", "function_name", "partition_column")
    accepts(ModelVersion.show_functions)
    accepts(ModelVersion.show_metrics)
    accepts(ModelVersion.export, "target_path", "export_mode")


def test_the_library_still_puts_comments_and_tags_inside_unescaped_dollar_quotes() -> None:
    """Why the hook refuses ``$$``: if this starts failing, the library escapes and the guard can relax."""
    from snowflake.ml.model._client.sql.model_version import ModelVersionSQLClient
    from snowflake.ml.model._client.sql.tag import ModuleTagSQLClient

    assert "COMMENT=$${comment}$$" in inspect.getsource(ModelVersionSQLClient.set_comment)
    assert "= $${tag_value}$$" in inspect.getsource(ModuleTagSQLClient.set_tag_on_model)


def test_registry_errors_the_hook_translates(snowflake_double: SnowflakeDouble) -> None:
    from snowflake.ml.registry import Registry

    with SnowflakeRegistryHook() as hook:
        with pytest.raises(ValueError, match=r"^Database"):
            Registry(hook.session, database_name="NOPE", schema_name="REGISTRY")
        with pytest.raises(ValueError, match=r"^Schema"):
            Registry(hook.session, database_name="ML", schema_name="NOPE")


def test_snowpark_and_the_snowflake_provider() -> None:
    from airflow.providers.snowflake.hooks.snowflake import SnowflakeHook
    from snowflake.snowpark import DataFrameWriter, FileOperation, Session

    accepts(SnowflakeHook.get_snowpark_session)
    accepts(Session.get_current_role)
    accepts(DataFrameWriter.save_as_table, "table_name", "mode", "copy_grants")
    accepts(FileOperation.put, "local_file_name", "stage_location", "auto_compress", "overwrite")
    accepts(FileOperation.get, "stage_location", "target_directory")
