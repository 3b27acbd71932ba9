"""partitions.py: listing partitions by file, prefix and date; the manifest of a partitioned run."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from airflow_registry_provider.exceptions import InvalidInputError
from airflow_registry_provider.partitions import (
    build_manifest,
    list_partitions,
    partition_name,
    sha256_path,
    write_manifest,
)


def _parquet(path: Path, rows: int = 3) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"x": range(rows)}).to_parquet(path, index=False)


def test_by_file(tmp_path: Path) -> None:
    for name in ("b.parquet", "a.parquet", "notes.txt"):
        _parquet(tmp_path / "in" / name)
    rows = list_partitions(str(tmp_path / "in"), str(tmp_path / "out"))
    assert rows == [
        {"input_path": str(tmp_path / "in" / "a.parquet"), "output_path": str(tmp_path / "out" / "a.parquet")},
        {"input_path": str(tmp_path / "in" / "b.parquet"), "output_path": str(tmp_path / "out" / "b.parquet")},
    ]


def test_by_prefix_and_by_date(tmp_path: Path) -> None:
    for folder in ("region=eu", "region=us", "_staging", "date=2026-01-02", "date=2026-01-01"):
        _parquet(tmp_path / "in" / folder / "part-0.parquet")
    prefixes = list_partitions(str(tmp_path / "in"), str(tmp_path / "out"), by="prefix")
    assert [Path(r["input_path"]).name for r in prefixes] == [
        "date=2026-01-01",
        "date=2026-01-02",
        "region=eu",
        "region=us",
    ]
    dates = list_partitions(str(tmp_path / "in"), str(tmp_path / "out"), by="date")
    assert [Path(r["output_path"]).name for r in dates] == ["2026-01-01.parquet", "2026-01-02.parquet"]
    assert partition_name(dates[0]["input_path"]) == "2026-01-01"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"by": "hour"}, "by"), ({}, "input_root")],
)
def test_bad_input_names_the_field(tmp_path: Path, kwargs: dict, field: str) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(InvalidInputError, match=rf"^{field}: "):
        list_partitions(str(tmp_path / "empty"), str(tmp_path / "out"), **kwargs)
    with pytest.raises(InvalidInputError, match=r"^input_root: .* is not a folder"):
        list_partitions(str(tmp_path / "missing"), str(tmp_path / "out"))


def _result(partition: dict[str, str], version: str, rows: int = 3) -> dict:
    _parquet(Path(partition["output_path"]), rows)
    ref = {"registry_conn_id": "mlflow_default", "model_name": "m", "version": version, "version_name": "1.0.0"}
    return {"rows": rows, "output": partition["output_path"], "model_version": ref}


def test_manifest_records_partitions_rows_version_and_checksums(tmp_path: Path) -> None:
    for name in ("a", "b"):
        _parquet(tmp_path / "in" / f"{name}.parquet")
    parts = list_partitions(str(tmp_path / "in"), str(tmp_path / "out"))
    manifest = build_manifest([_result(p, "3") for p in parts], parts, run_id="manual__1")
    assert manifest["rows"] == 6 and manifest["run_id"] == "manual__1"
    assert manifest["model_version"]["version"] == "3"
    assert [p["partition"] for p in manifest["partitions"]] == ["a", "b"]
    assert manifest["partitions"][0]["output_sha256"] == sha256_path(parts[0]["output_path"])
    path = write_manifest(str(tmp_path / "out" / "_manifest.json"), manifest)
    assert json.loads(Path(path).read_text()) == manifest
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["_manifest.json", "a.parquet", "b.parquet"]


def test_manifest_refuses_mixed_versions_and_foreign_results(tmp_path: Path) -> None:
    for name in ("a", "b"):
        _parquet(tmp_path / "in" / f"{name}.parquet")
    parts = list_partitions(str(tmp_path / "in"), str(tmp_path / "out"))
    with pytest.raises(InvalidInputError, match="different model versions"):
        build_manifest([_result(parts[0], "3"), _result(parts[1], "4")], parts)
    with pytest.raises(InvalidInputError, match="is not partition"):
        build_manifest([_result(parts[1], "3"), _result(parts[0], "3")], parts)
    with pytest.raises(InvalidInputError, match="1 results for 2 partitions"):
        build_manifest([_result(parts[0], "3")], parts)


def test_write_run_manifest_writes_the_file_and_returns_a_summary(tmp_path: Path) -> None:
    from airflow_registry_provider.partitions import MANIFEST_NAME, write_run_manifest

    for name in ("a", "b"):
        _parquet(tmp_path / "in" / f"{name}.parquet")
    parts = list_partitions(str(tmp_path / "in"), str(tmp_path / "out"))
    summary = write_run_manifest([_result(p, "3") for p in parts], parts, str(tmp_path / "out"), "manual__2")
    assert summary == {
        "manifest": str(tmp_path / "out" / MANIFEST_NAME),
        "partitions": 2,
        "rows": 6,
        "model_version": {
            "registry_conn_id": "mlflow_default",
            "model_name": "m",
            "version": "3",
            "version_name": "1.0.0",
        },
    }
    assert json.loads((tmp_path / "out" / MANIFEST_NAME).read_text())["run_id"] == "manual__2"
