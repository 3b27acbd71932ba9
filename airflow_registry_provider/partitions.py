"""Partitions of a batch-scoring input, and the manifest of a partitioned run.

Pure module (no Airflow imports). A partition is the unit of work of one mapped
``BatchInferenceOperator`` task (``.expand_kwargs(list_partitions(...))``):

* ``by="file"``: every ``*.parquet`` file directly in ``input_root``, named by its stem;
* ``by="prefix"``: every sub-folder of ``input_root`` (its Parquet files are scored together);
* ``by="date"``: every Hive-style sub-folder ``<date_key>=YYYY-MM-DD``, named by the date.

Each partition writes ``<output_dir>/<name>.parquet``. After every partition has scored,
:func:`build_manifest` records the partitions, their rows, the one model version that
scored them all, and the sha256 of every input and output file; :func:`write_manifest`
writes it atomically; :func:`write_run_manifest` does both for a DAG's last task.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import Any

from airflow_registry_provider.artifacts import sha256_tree
from airflow_registry_provider.exceptions import InvalidInputError
from airflow_registry_provider.integrity import sha256_file

PARTITION_KINDS = ("file", "prefix", "date")
MANIFEST_FORMAT = 1
MANIFEST_NAME = "_manifest.json"


def list_partitions(
    input_root: str, output_dir: str, *, by: str = "file", date_key: str = "date"
) -> list[dict[str, str]]:
    """The partitions under ``input_root``, sorted by name, as ``expand_kwargs`` rows.

    Each row is ``{"input_path", "output_path"}``. Raises InvalidInputError naming
    ``input_root`` when it is not a folder or holds no partition.
    """
    if by not in PARTITION_KINDS:
        raise InvalidInputError("by", f"must be one of {', '.join(PARTITION_KINDS)}, not {by!r}")
    if not os.path.isdir(input_root):
        raise InvalidInputError("input_root", f"{input_root!r} is not a folder")
    entries = sorted(os.scandir(input_root), key=lambda e: e.name)
    found: list[tuple[str, str]] = []
    if by == "file":
        found = [(e.name[: -len(".parquet")], e.path) for e in entries if e.is_file() and e.name.endswith(".parquet")]
    else:
        folders = [e for e in entries if e.is_dir() and not e.name.startswith((".", "_"))]
        if by == "prefix":
            found = [(e.name, e.path) for e in folders]
        else:
            pattern = re.compile(rf"{re.escape(date_key)}=(\d{{4}}-\d{{2}}-\d{{2}})")
            for e in folders:
                match = pattern.fullmatch(e.name)
                if match:
                    date.fromisoformat(match.group(1))  # a real date, or ValueError
                    found.append((match.group(1), e.path))
    if not found:
        raise InvalidInputError("input_root", f"{input_root!r} holds no partition (by={by!r})")
    return [{"input_path": path, "output_path": os.path.join(output_dir, f"{name}.parquet")} for name, path in found]


def partition_name(input_path: str) -> str:
    """The name a partition goes by in errors and manifests (its file stem or folder name)."""
    base = os.path.basename(os.path.normpath(input_path))
    base = base.removesuffix(".parquet")
    return base.split("=", 1)[1] if "=" in base else base


def sha256_path(path: str) -> str:
    """sha256 of a file, or of a folder's files (relative names and contents, in order)."""
    return sha256_tree(path) if os.path.isdir(path) else sha256_file(path)


def build_manifest(
    results: Iterable[Mapping[str, Any]], partitions: Sequence[Mapping[str, str]], *, run_id: str | None = None
) -> dict[str, Any]:
    """The manifest of a partitioned run from the mapped tasks' XComs (in partition order).

    Every partition must have been scored by the same model version (else InvalidInputError
    naming ``results``): a manifest never mixes versions.
    """
    results = list(results)
    if len(results) != len(partitions):
        raise InvalidInputError("results", f"{len(results)} results for {len(partitions)} partitions")
    versions = {(r["model_version"]["model_name"], str(r["model_version"]["version"])) for r in results}
    if len(versions) != 1:
        raise InvalidInputError("results", f"partitions were scored by different model versions: {sorted(versions)}")
    entries = []
    for partition, result in zip(partitions, results, strict=True):
        if os.path.abspath(result["output"]) != os.path.abspath(partition["output_path"]):
            raise InvalidInputError("results", f"result {result['output']!r} is not partition {partition!r}")
        entries.append(
            {
                "partition": partition_name(partition["input_path"]),
                "input": partition["input_path"],
                "input_sha256": sha256_path(partition["input_path"]),
                "output": partition["output_path"],
                "output_sha256": sha256_path(partition["output_path"]),
                "rows": int(result["rows"]),
            }
        )
    ref = results[0]["model_version"]
    return {
        "format": MANIFEST_FORMAT,
        "run_id": run_id,
        "model_version": {k: ref.get(k) for k in ("registry_conn_id", "model_name", "version", "version_name")},
        "partitions": entries,
        "rows": sum(e["rows"] for e in entries),
    }


def write_manifest(path: str, manifest: Mapping[str, Any]) -> str:
    """Write ``manifest`` as JSON to ``path`` atomically (temp file in the folder, then rename)."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    tmp = os.path.join(folder, f".{os.path.basename(path)}.{uuid.uuid4().hex}.tmp")
    try:
        with open(tmp, "w") as fh:
            json.dump(manifest, fh, indent=2, sort_keys=True)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def write_run_manifest(
    results: Iterable[Mapping[str, Any]], partitions: Sequence[Mapping[str, str]], output_dir: str, run_id: str
) -> dict[str, Any]:
    """Build the run's manifest and write it to ``<output_dir>/_manifest.json``; return a summary for XCom."""
    manifest = build_manifest(results, partitions, run_id=run_id)
    path = write_manifest(os.path.join(output_dir, MANIFEST_NAME), manifest)
    return {
        "manifest": path,
        "partitions": len(manifest["partitions"]),
        "rows": manifest["rows"],
        "model_version": manifest["model_version"],
    }
