"""The snowflake-ml-python and Snowpark calls the hook relies on still exist as used.

The hook calls a few of the library's lower-level methods (one statement each, where
the public API repeats ``SHOW`` statements); these checks fail first when an upgrade
renames or reshapes them.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import pytest

from airflow_registry_provider.hooks.snowflake import SnowflakeRegistryHook
from tests.snowflake.session_double import SnowflakeDouble


def parameters(function: Callable[..., Any]) -> dict[str, inspect.Parameter]:
    return dict(inspect.signature(function).parameters)


def accepts(function: Callable[..., Any], *names: str, keyword_only: bool = False) -> None:
    found = parameters(function)
    missing = [name for name in names if name not in found]
    assert not missing, f"{function.__qualname__} no longer takes {missing}"
    if keyword_only:
        assert all(found[name].kind is inspect.Parameter.KEYWORD_ONLY for name in names)


def test_library_version_is_the_one_the_quirks_were_checked_against() -> None:
    from snowflake.ml.version import VERSION

    assert VERSION.startswith("2."), "re-check the $$ quoting and metadata layout notes in docs/snowflake.md"


def test_registry() -> None:
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
    accepts(Registry.get_model, "model_name")


def test_model() -> None:
    from snowflake.ml.model import Model

    assert isinstance(Model.default, property)
    assert Model.default.fset is not None
    accepts(Model.set_tag, "tag_name", "tag_value")
    accepts(Model.show_tags)
    accepts(Model.delete_version, "version_name")


def test_model_version() -> None:
    from snowflake.ml.model import ModelVersion

    accepts(ModelVersion._ref, "model_ops", "service_ops", "model_name", "version_name")
    accepts(ModelVersion.run, "X", "function_name", "partition_column")
    accepts(ModelVersion.show_functions)
    accepts(ModelVersion.show_metrics)
    accepts(ModelVersion.load, "force")


def test_lower_level_operations() -> None:
    from snowflake.ml.model._client.ops.model_ops import ModelOperator
    from snowflake.ml.model._client.sql.model import ModelSQLClient
    from snowflake.ml.model._client.sql.model_version import ModelVersionSQLClient

    ids = ("database_name", "schema_name", "model_name")
    accepts(ModelOperator.set_alias, "alias_name", "version_name", *ids, keyword_only=True)
    accepts(ModelOperator.unset_alias, "version_or_alias_name", *ids, keyword_only=True)
    accepts(ModelOperator.set_comment, "comment", "version_name", *ids, keyword_only=True)
    accepts(ModelSQLClient.show_versions, "version_name", "validate_result", *ids, keyword_only=True)
    accepts(ModelVersionSQLClient.set_metadata, "metadata_dict")
    accepts(ModelVersionSQLClient.set_metadata, "version_name", *ids, keyword_only=True)
    assert ModelSQLClient.MODEL_VERSION_METADATA_COL_NAME == "metadata"
    assert ModelSQLClient.MODEL_VERSION_ALIASES_COL_NAME == "aliases"


def test_metrics_live_where_the_hook_writes_them() -> None:
    from snowflake.ml.model._client.ops import metadata_ops

    assert metadata_ops.MODEL_VERSION_METADATA_SCHEMA_VERSION == "2024-01-01"
    assert "metrics" in metadata_ops.ModelVersionMetadataSchema.__annotations__


def test_the_library_still_puts_comments_and_metadata_inside_unescaped_dollar_quotes() -> None:
    """Why the hook refuses ``$$``: if this starts failing, the library escapes and the guard can relax."""
    from snowflake.ml.model._client.sql.model_version import ModelVersionSQLClient
    from snowflake.ml.model._client.sql.tag import ModuleTagSQLClient

    assert "COMMENT=$${comment}$$" in inspect.getsource(ModelVersionSQLClient.set_comment)
    assert "METADATA=$${json_metadata}$$" in inspect.getsource(ModelVersionSQLClient.set_metadata)
    assert "= $${tag_value}$$" in inspect.getsource(ModuleTagSQLClient.set_tag_on_model)


def test_registry_errors_the_hook_translates(snowflake_double: SnowflakeDouble) -> None:
    from snowflake.ml.registry import Registry

    session = SnowflakeRegistryHook().session
    with pytest.raises(ValueError, match=r"^Database"):
        Registry(session, database_name="NOPE", schema_name="REGISTRY")
    with pytest.raises(ValueError, match=r"^Schema"):
        Registry(session, database_name="ML", schema_name="NOPE")


def test_the_registry_exposes_its_operators(snowflake_double: SnowflakeDouble) -> None:
    from snowflake.ml.model._client.ops.model_ops import ModelOperator
    from snowflake.ml.model._client.ops.service_ops import ServiceOperator

    manager = SnowflakeRegistryHook().registry._model_manager

    assert isinstance(manager._model_ops, ModelOperator)
    assert isinstance(manager._service_ops, ServiceOperator)


def test_snowpark_and_the_snowflake_provider() -> None:
    from airflow.providers.snowflake.hooks.snowflake import SnowflakeHook
    from snowflake.snowpark import DataFrameWriter, FileOperation

    accepts(SnowflakeHook.get_snowpark_session)
    accepts(DataFrameWriter.save_as_table, "table_name", "mode")
    accepts(FileOperation.put, "local_file_name", "stage_location", "auto_compress", "overwrite")
    accepts(FileOperation.get, "stage_location", "target_directory")
