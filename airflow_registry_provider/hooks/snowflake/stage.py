"""Files stored with a version (model cards, drift profiles, reports): the ``MODEL_ARTIFACTS`` stage.

``@<DB>.<SCHEMA>.MODEL_ARTIFACTS/<MODEL>/<VERSION>/<artifact_path>``, an internal stage in
the registry schema created on first use. Uses Snowpark's public ``FileOperation``.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from typing import TYPE_CHECKING

from airflow_registry_provider.exceptions import InvalidInputError

if TYPE_CHECKING:
    from snowflake.snowpark import Session

STAGE = "MODEL_ARTIFACTS"
_ARTIFACT_PATH = re.compile(r"[A-Za-z0-9_\-.]+(/[A-Za-z0-9_\-.]+)*")


def create_stage_sql(location: str) -> str:
    return (
        f"CREATE STAGE IF NOT EXISTS {location}.{STAGE} "
        "COMMENT = 'Files stored with model versions by airflow-registry-provider'"
    )


def location(registry: str, model_name: str, version: str, artifact_path: str) -> tuple[str, str]:
    """``(stage directory, file name)`` of a file stored with a version."""
    if (
        not isinstance(artifact_path, str)
        or not _ARTIFACT_PATH.fullmatch(artifact_path)
        or ".." in artifact_path.split("/")
    ):
        raise InvalidInputError(
            "artifact_path", f"{artifact_path!r} is not a relative path of letters, digits, '_', '-', '.' and '/'"
        )
    parent, _, name = artifact_path.rpartition("/")
    directory = f"@{registry}.{STAGE}/{model_name}/{version}" + (f"/{parent}" if parent else "")
    return directory, name


def upload(session: Session, local_path: str, directory: str, name: str) -> str:
    """PUT ``local_path`` as ``<directory>/<name>``; return that location."""
    with tempfile.TemporaryDirectory() as tmp:
        staged = os.path.join(tmp, name)  # PUT keeps the local file name
        shutil.copyfile(local_path, staged)
        session.file.put(staged, directory, auto_compress=False, overwrite=True)
    return f"{directory}/{name}"


def download(session: Session, directory: str, name: str, artifact_path: str, dst_dir: str) -> str | None:
    """GET ``<directory>/<name>`` to ``dst_dir/<artifact_path>``; None when no such file is stored."""
    target = os.path.join(dst_dir, os.path.dirname(artifact_path))
    os.makedirs(target, exist_ok=True)
    if not session.file.get(f"{directory}/{name}", target):
        return None
    return os.path.join(target, name)
