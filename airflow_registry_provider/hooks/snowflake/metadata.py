"""Where the provider keeps its data in a Snowflake model: the metadata layout.

Pure module (no Airflow, no Snowflake imports); ``docs/snowflake.md`` shows the layout.

* Snowflake has no version tags. The provider's version tags live in the version's
  metadata document under :data:`TAGS_KEY`, beside the ``metrics`` snowflake-ml-python
  manages (``ModelVersion.show_metrics()`` keeps working).
* Model tags are Snowflake tag objects in the registry schema named after the key, as a
  quoted identifier (``ML.REGISTRY."airflow_registry.audit"``); a value holds at most
  :data:`TAG_VALUE_LIMIT` characters.
* Rows are ``SHOW VERSIONS`` rows as mappings (column name -> value).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from airflow_registry_provider import tags as tag_keys
from airflow_registry_provider.exceptions import InvalidInputError
from airflow_registry_provider.hooks.snowflake.names import check_json_strings, semantic_name
from airflow_registry_provider.model_version import ModelVersion
from airflow_registry_provider.naming import SNOWFLAKE_RESERVED_ALIASES

#: Metadata key holding the provider's version tags.
TAGS_KEY = "airflow_registry_tags"
#: The library's own keys (``snowflake.ml.model._client.ops.metadata_ops``; pinned by the contract test).
METRICS_KEY = "metrics"
SCHEMA_VERSION_KEY = "snowpark_ml_schema_version"
SCHEMA_VERSION = "2024-01-01"
#: Version tag: JSON ``{distribution: version}`` of the worker's exact library versions at
#: registration (lineage), whatever the version's dependency specifiers allow.
WORKER_PACKAGES = tag_keys.PREFIX + "worker_packages"
#: Snowflake's limit on an object tag value.
TAG_VALUE_LIMIT = 256
#: Longest object tag name (an identifier).
TAG_KEY_LIMIT = 255


def parse(text: Any) -> dict[str, Any]:
    """A metadata document as stored (Snowflake answers ``{}`` for a version without one)."""
    if isinstance(text, Mapping):
        return dict(text)
    document = json.loads(text) if text else {}
    return document if isinstance(document, dict) else {}


def merged(
    current: Mapping[str, Any],
    *,
    metrics: Mapping[str, float] | None = None,
    tags: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """``current`` with ``metrics`` and ``tags`` merged in; strings checked for ``$$``."""
    document = dict(current)
    if metrics:
        merged_metrics = {**(document.get(METRICS_KEY) or {}), **{str(k): float(v) for k, v in metrics.items()}}
        check_json_strings(merged_metrics, "metrics")
        document[METRICS_KEY] = merged_metrics
        document[SCHEMA_VERSION_KEY] = SCHEMA_VERSION
    if tags:
        merged_tags = {**(document.get(TAGS_KEY) or {}), **{str(k): str(v) for k, v in tags.items()}}
        check_json_strings(merged_tags, "tags")
        document[TAGS_KEY] = merged_tags
    return document


def user_aliases(row: Mapping[str, Any]) -> list[str]:
    """The aliases users set on a version (``DEFAULT``, ``FIRST``, ``LAST`` are Snowflake's)."""
    raw = row.get("aliases") or "[]"
    aliases = json.loads(raw) if isinstance(raw, str) else list(raw)
    return [str(a).upper() for a in aliases if str(a).upper() not in SNOWFLAKE_RESERVED_ALIASES]


def is_default(row: Mapping[str, Any]) -> bool:
    """``is_default_version`` is a BOOLEAN column; older answers spelled it as text."""
    value = row.get("is_default_version")
    return value is True or str(value).lower() == "true"


def alias_holder(listing: Mapping[str, Mapping[str, Any]], alias: str) -> str | None:
    """The version holding ``alias`` in a versions listing, or None."""
    return next((name for name, row in listing.items() if alias in user_aliases(row)), None)


def version_tags(row: Mapping[str, Any]) -> dict[str, str]:
    return {str(k): str(v) for k, v in (parse(row.get("metadata")).get(TAGS_KEY) or {}).items()}


def recorded_name(version: str, tags: Mapping[str, str]) -> str | None:
    """The semantic name a version was registered under (recorded, else read from its id)."""
    return tags.get(tag_keys.VERSION_NAME) or semantic_name(version)


def to_version(location: str, model_name: str, row: Mapping[str, Any]) -> ModelVersion:
    """The provider's view of one ``SHOW VERSIONS`` row."""
    document = parse(row.get("metadata"))
    tags = version_tags(row)
    metrics = {
        str(k): float(v)
        for k, v in (document.get(METRICS_KEY) or {}).items()
        if isinstance(v, int | float) and not isinstance(v, bool)
    }
    version = str(row["name"])
    created = row.get("created_on")
    return ModelVersion(
        model_name=model_name,
        version=version,
        uri=version_uri(location, model_name, version),
        version_name=recorded_name(version, tags),
        aliases=tuple(user_aliases(row)),
        tags=tags,
        metrics=metrics,
        description=row.get("comment") or None,
        created_at=created if isinstance(created, datetime) else None,
    )


def version_uri(location: str, model_name: str, version: str) -> str:
    return f"snowflake://{location}.{model_name}/{version}"


def tag_name(location: str, key: str) -> str:
    """The Snowflake tag object holding model tag ``key`` (keys are checked by :func:`check_tag_key`)."""
    return f'{location}."{key}"'


_TAG_PART = r'(?:"(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)'
_FQ_TAG = re.compile(rf"({_TAG_PART})\.({_TAG_PART})\.({_TAG_PART})")


def _unquote(part: str) -> str:
    return part[1:-1].replace('""', '"') if part.startswith('"') else part.upper()


def tag_key(location: str, fq_name: str) -> str:
    """A model tag's key: its name for the provider's own tags (in ``location``), else the qualified name."""
    match = _FQ_TAG.fullmatch(fq_name)
    if match is None:
        return fq_name
    database, schema, name = (_unquote(p) for p in match.groups())
    return name if f"{database}.{schema}" == location else fq_name


def check_tag_key(key: Any, field: str) -> str:
    """A tag key: 1-255 characters, no ``"`` (model tag names are quoted identifiers) and no ``$$``."""
    text = str(key)
    if not text or '"' in text or len(text) > TAG_KEY_LIMIT or "$$" in text:
        raise InvalidInputError(f"{field}.{key}", f"tag keys are 1-{TAG_KEY_LIMIT} characters without '\"' or '$$'")
    return text


def fit_tag_value(key: str, value: str, field: str = "tags") -> str:
    """A model tag value within :data:`TAG_VALUE_LIMIT`.

    JSON arrays (append-only logs) keep their newest entries that fit; any other value
    that is too long is refused.
    """
    if len(value) <= TAG_VALUE_LIMIT:
        return value
    try:
        entries = json.loads(value)
    except ValueError:
        entries = None
    if not isinstance(entries, list):
        raise InvalidInputError(
            f"{field}.{key}", f"is {len(value)} characters; Snowflake tag values hold at most {TAG_VALUE_LIMIT}"
        )
    while entries:
        text = json.dumps(entries, sort_keys=True, default=str)
        if len(text) <= TAG_VALUE_LIMIT:
            return text
        entries = entries[1:]
    return "[]"
