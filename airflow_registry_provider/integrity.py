"""Manifests of stored model files: what registration recorded, checked before any load.

Pure module (no Airflow imports). A manifest maps each file of a model directory (its
path relative to the directory, ``/``-separated) to its sha256. The registry keeps it
in the version's tags (``airflow_registry.model_manifest``) and its digest beside it
(``airflow_registry.model_sha256``), which lives in the registry's database, not in the
artifact store whose files it describes. Before a downloaded model is unpickled,
:func:`verify_files` compares the files with the manifest; any difference is an
:class:`IntegrityError` naming the version and the file.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path

from airflow_registry_provider import tags
from airflow_registry_provider.exceptions import IntegrityError, InvalidInputError

_CHUNK = 1 << 20


def sha256_file(path: str | os.PathLike[str]) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def file_manifest(root: str | os.PathLike[str]) -> dict[str, str]:
    """``{relative path: sha256}`` of every file under ``root``, sorted by path."""
    base = Path(root)
    if not base.is_dir():
        raise InvalidInputError("model", f"{str(root)!r} is not a model directory")
    return {
        path.relative_to(base).as_posix(): sha256_file(path)
        for path in sorted(p for p in base.rglob("*") if p.is_file())
    }


def manifest_text(manifest: Mapping[str, str]) -> str:
    """The canonical JSON of a manifest (compact, sorted): what the tag stores."""
    return json.dumps(dict(manifest), sort_keys=True, separators=(",", ":"))


def manifest_digest(manifest: Mapping[str, str]) -> str:
    """sha256 of :func:`manifest_text`: one value that pins every file."""
    return hashlib.sha256(manifest_text(manifest).encode()).hexdigest()


def parse_manifest(text: str, digest: str | None, *, what: str) -> dict[str, str]:
    """A manifest read back from the registry, checked against its recorded digest."""
    try:
        manifest = json.loads(text)
    except ValueError:
        raise IntegrityError(f"{what}: the recorded model manifest is not JSON") from None
    if not isinstance(manifest, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in manifest.items()
    ):
        raise IntegrityError(f"{what}: the recorded model manifest is not a {{path: sha256}} object")
    if digest is not None and manifest_digest(manifest) != digest:
        raise IntegrityError(f"{what}: the recorded model manifest does not match its recorded digest")
    return manifest


def manifest_tags(manifest: Mapping[str, str], stored_at: str | None = None) -> dict[str, str]:
    """The version tags that record ``manifest``: its JSON (or ``stored_at``, the URI of
    the file holding it when it is too long for a tag) and its digest."""
    return {
        tags.MODEL_MANIFEST: stored_at if stored_at is not None else manifest_text(manifest),
        tags.MODEL_SHA256: manifest_digest(manifest),
    }


def recorded_manifest(
    version_tags: Mapping[str, str], *, what: str, fetch: Callable[[str], str]
) -> dict[str, str] | None:
    """The manifest a version's tags record, checked against its digest; None when there is none.

    ``fetch`` reads the file a manifest was stored in when it did not fit a tag (the tag
    then holds that file's URI); the digest, kept in the registry's database, pins it.
    """
    text = version_tags.get(tags.MODEL_MANIFEST)
    digest = version_tags.get(tags.MODEL_SHA256)
    if text is None and digest is None:
        return None
    if text is None or digest is None:
        raise IntegrityError(
            f"{what}: the model manifest is recorded only in part ({tags.MODEL_MANIFEST}, {tags.MODEL_SHA256})"
        )
    if not text.lstrip().startswith("{"):
        text = fetch(text)
    return parse_manifest(text, digest, what=what)


def verify_file(path: str | os.PathLike[str], name: str, expected: Mapping[str, str], *, what: str) -> None:
    """Raise :class:`IntegrityError` unless the file at ``path`` is manifest entry ``name``."""
    if name not in expected:
        raise IntegrityError(f"{what}: {name} is not in the manifest recorded at registration; nothing was loaded")
    if sha256_file(path) != expected[name]:
        raise IntegrityError(
            f"{what}: stored model file {name} does not match the manifest recorded at registration "
            "(sha256 differs); nothing was loaded"
        )


def verify_files(root: str | os.PathLike[str], expected: Mapping[str, str], *, what: str) -> None:
    """Raise :class:`IntegrityError` unless ``root`` holds exactly the files of ``expected``.

    ``what`` names the version (``version 3 of churn``). Every differing file is named:
    changed, missing, or not in the manifest.
    """
    found = file_manifest(root)
    changed = sorted(p for p in expected if p in found and found[p] != expected[p])
    missing = sorted(p for p in expected if p not in found)
    extra = sorted(p for p in found if p not in expected)
    problems = [f"{path} (sha256 differs)" for path in changed]
    problems += [f"{path} (missing)" for path in missing]
    problems += [f"{path} (not in the manifest)" for path in extra]
    if problems:
        raise IntegrityError(
            f"{what}: stored model files do not match the manifest recorded at registration: "
            f"{', '.join(problems)}; nothing was loaded"
        )
