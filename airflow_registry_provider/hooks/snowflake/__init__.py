"""The Snowflake Model Registry backend (see ``hook.py``).

Lazy: importing a module of this package (``names``, ``metadata``, ``grants`` …) does not
import Airflow, Snowpark or snowflake-ml-python.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_registry_provider.hooks.snowflake.metadata import TAGS_KEY as METADATA_TAGS_KEY
from airflow_registry_provider.hooks.snowflake.names import check_dollar_quoting

if TYPE_CHECKING:
    from airflow_registry_provider.hooks.snowflake.hook import SnowflakeRegistryHook

__all__ = ["METADATA_TAGS_KEY", "SnowflakeRegistryHook", "check_dollar_quoting"]


def __getattr__(name: str) -> Any:
    if name == "SnowflakeRegistryHook":
        from airflow_registry_provider.hooks.snowflake.hook import SnowflakeRegistryHook

        return SnowflakeRegistryHook
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
