"""Dataset identities (OpenLineage namespace and name) for files and model versions.

Pure module. Files follow OpenLineage's naming (a local path: namespace ``file``, name
the absolute path; ``s3://bucket/key``: namespace ``s3://bucket``, name ``key``). A model
version's identity comes from its hook (``RegistryHook.lineage_dataset``); its Airflow
Asset URI is ``<namespace>/<name>`` so that Asset and dataset are the same thing.
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit

from airflow_registry_provider.exceptions import InvalidInputError


def is_location(value: object) -> bool:
    """Whether ``value`` is a file path or URI (rather than, say, a Snowflake table name)."""
    return isinstance(value, str) and ("/" in value or "://" in value or os.sep in value)


def file_dataset(location: str) -> tuple[str, str]:
    """``(namespace, name)`` of a local path or object-store URI."""
    parts = urlsplit(location)
    if parts.scheme in ("", "file"):
        return "file", os.path.abspath(parts.path if parts.scheme else location)
    return f"{parts.scheme}://{parts.netloc}", parts.path.lstrip("/")


def asset_uri(namespace: str, name: str) -> str:
    return f"{namespace}/{name}"


def split_asset_uri(uri: str) -> tuple[str, str]:
    """The inverse of :func:`asset_uri` for ``scheme://authority`` namespaces."""
    parts = urlsplit(uri)
    if not parts.scheme or not parts.netloc:
        raise InvalidInputError("uri", f"{uri!r} is not a <scheme>://<authority>/<name> URI")
    return f"{parts.scheme}://{parts.netloc}", parts.path.lstrip("/")
