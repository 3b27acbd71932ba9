"""Integrity of the files a Snowflake version stores.

At registration ``Registry.log_model(options={"save_location": …})`` serializes the model
into a local folder that maps one to one onto the version's files; its manifest
(``integrity.file_manifest``) is recorded in the version's
metadata with the other tags, at no extra round trip.

* **Local loads** (``load_model``, ``load_native_model``, ``download_model``): the
  ``model/`` files are downloaded with ``ModelVersion.export`` and compared with the
  manifest before anything is unpickled; what is loaded is exactly what was checked.
* **Warehouse runs** (``predict``, ``batch_predict``): the files never reach the worker,
  so nothing of them can run there, and Snowflake has no statement that changes the
  files of an existing version (replacing them means dropping and adding the version,
  which takes the model's OWNERSHIP and resets its metadata). The check is that the
  version carries a manifest consistent with its recorded digest, i.e. that it is the
  version the provider registered; downloading every file on every run would cost a
  round trip per file for no further protection.

A version without a manifest (registered before this check existed, or outside the
provider) is refused unless ``allow_unverified=True``, never silently.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING

from airflow_registry_provider import integrity
from airflow_registry_provider.exceptions import IntegrityError

if TYPE_CHECKING:
    from snowflake.ml.model import ModelVersion as LibraryModelVersion

log = logging.getLogger(__name__)
#: The part of a version's files that ``ModelVersion.export()`` (mode MODEL) downloads and loading reads.
MODEL_DIR = "model/"


def manifest_tags(save_location: str) -> dict[str, str]:
    """The manifest tags of the files ``log_model`` saved in ``save_location``."""
    return integrity.manifest_tags(integrity.file_manifest(save_location))


def _not_inline(where: str) -> str:
    # Snowflake's metadata holds the whole manifest: a pointer to a file is not ours.
    raise IntegrityError(f"the recorded model manifest points to {where!r} instead of holding the manifest")


def recorded_manifest(tags: Mapping[str, str], *, what: str, allow_unverified: bool) -> dict[str, str] | None:
    """The version's manifest (checked against its digest); None only when unverified use is allowed."""
    manifest = integrity.recorded_manifest(tags, what=what, fetch=_not_inline)
    if manifest is not None:
        return manifest
    if not allow_unverified:
        raise IntegrityError(
            f"{what}: no manifest of its stored files was recorded at registration (registered before integrity "
            "checks, or outside the provider); nothing was loaded. Pass allow_unverified=True to use it anyway"
        )
    log.warning("%s has no recorded model manifest: used unverified (allow_unverified=True)", what)
    return None


def export_verified(mv: LibraryModelVersion, workspace: str, manifest: Mapping[str, str] | None, *, what: str) -> str:
    """Download the version's ``model/`` files into the empty folder ``workspace`` and verify them."""
    from snowflake.ml.model import ExportMode

    mv.export(workspace, export_mode=ExportMode.MODEL)
    if manifest is not None:
        expected = {path: digest for path, digest in manifest.items() if path.startswith(MODEL_DIR)}
        if not expected:
            raise IntegrityError(f"{what}: the recorded manifest lists no model files; nothing was loaded")
        integrity.verify_files(workspace, expected, what=what)
    return workspace
