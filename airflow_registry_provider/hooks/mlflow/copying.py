"""MLflow's side of a copy between registries: finding a copy already made, by tag search."""

from __future__ import annotations

from typing import Any

from airflow_registry_provider.copying import COPY_SOURCE
from airflow_registry_provider.exceptions import InvalidInputError


def find_copy(reads: Any, model_name: str, source_digest: str) -> Any | None:
    """The lowest-numbered version of ``model_name`` whose copy-source tag is ``source_digest``.

    ``model_name`` is validated by the caller and the digest is hex, so both are safe in
    the filter; a registered model that does not exist simply matches nothing.
    """
    if not source_digest or any(c not in "0123456789abcdef" for c in source_digest):
        raise InvalidInputError("source_digest", f"{source_digest!r} is not a CopySource digest")
    query = f"name = '{model_name}' and tags.`{COPY_SOURCE}` = '{source_digest}'"
    found = reads.search_model_versions(query, max_results=10)
    return min(found, key=lambda mv: int(mv.version), default=None)
