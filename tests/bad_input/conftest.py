"""What every bad-input table shares: a seeded registry, its full dump, and the refusal check.

Each case runs an operator in-process against a real registry and asserts the contract of
issue 9: the provider's typed error, a message (and ``field``) starting with the field at
fault, no retry (``AirflowFailException``, which Airflow's task runner turns into FAILED on
try 1; a literal value is refused when the DAG is parsed), and a registry left exactly as
it was — every row of every table of the sqlite MLflow store and every file under its
folder, or, on Snowflake, no write recorded by the scripted session.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from airflow.sdk.exceptions import AirflowFailException

from airflow_registry_provider.exceptions import InvalidInputError
from tests.helpers import make_model_files, task_context

CONN = "bad_input_mlflow"
MODEL = "churn"


@dataclass
class World:
    """A sqlite MLflow registry holding ``churn`` v1 (champion, with a drift profile) and v2 (no profile)."""

    root: Path
    db: Path
    paths: dict[str, str]
    other: dict[str, str]  # a second model's files (another artifact)
    v1: dict[str, Any]
    v2: dict[str, Any]
    files: dict[str, str] = field(default_factory=dict)

    def dump(self) -> dict[str, Any]:
        """Every row of every table, and every file (with its sha256) under the registry's folder."""
        tables: dict[str, list[tuple]] = {}
        with closing(sqlite3.connect(f"file:{self.db}?mode=ro", uri=True)) as db:
            names = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
            for name in names:
                rows = db.execute(f'SELECT * FROM "{name}"').fetchall()  # names from sqlite_master
                tables[name] = sorted(rows, key=repr)
        files = {}
        for path in sorted(self.root.rglob("*")):
            if path.is_file() and not path.name.startswith(self.db.name):
                files[str(path.relative_to(self.root))] = hashlib.sha256(path.read_bytes()).hexdigest()
        return {"tables": tables, "files": files}


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """Seeded once per session under its own connection id (other tests' connections stay theirs)."""
    from airflow_registry_provider.operators import LogModelOperator, PromoteVersionOperator

    root = tmp_path_factory.mktemp("bad-input-registry")
    data = tmp_path_factory.mktemp("bad-input-data")
    db = root / "mlflow.db"
    conn_var = f"AIRFLOW_CONN_{CONN.upper()}"
    previous = os.environ.get(conn_var)
    os.environ[conn_var] = json.dumps(
        {
            "conn_type": "mlflow_registry",
            "extra": {"tracking_uri": f"sqlite:///{db}", "artifact_location": (root / "artifacts").as_uri()},
        }
    )
    try:
        paths = make_model_files(data)
        common = {"registry_conn_id": CONN, "model_name": MODEL, "sample_input": paths["sample"]}
        v1 = LogModelOperator(
            task_id="seed1",
            model=paths["model"],
            version_name="1.0.0",
            metrics={"accuracy": 0.9, "f1": 0.8},
            reference_data=paths["train"],
            **common,
        ).execute(task_context("seed1"))
        (data / "other").mkdir()
        other = make_model_files(data / "other", seed=3)
        v2 = LogModelOperator(
            task_id="seed2", model=other["model"], version_name="1.1.0", metrics={"accuracy": 0.91}, **common
        ).execute(task_context("seed2"))
        PromoteVersionOperator(
            task_id="seed_promote", registry_conn_id=CONN, model_version=v1, require_validation=False
        ).execute(task_context("seed_promote"))
        yield World(root=root, db=db, paths=paths, other=other, v1=v1, v2=v2, files=_bad_files(data, paths))
    finally:
        if previous is None:
            os.environ.pop(conn_var, None)
        else:
            os.environ[conn_var] = previous


def _bad_files(folder: Path, paths: dict[str, str]) -> dict[str, str]:
    """Inputs that are wrong in one way each, next to the good ones."""
    from tests.helpers import FEATURES, make_data

    out: dict[str, str] = {}

    def put(name: str, frame: pd.DataFrame) -> None:
        out[name] = str(folder / f"{name}.parquet")
        frame.to_parquet(out[name], index=False)

    good = make_data(50, seed=7)
    words = good[FEATURES].copy()
    words["f2"] = "high"  # a column of words: the model cannot score it
    put("strings", words)
    put("missing_column", good[["f1", "f2"]])
    put("empty", good[FEATURES].head(0))
    put("int_features", (good[FEATURES] * 10).astype("int64"))  # ints where the signature has doubles
    put("unlabelled", good[FEATURES])
    put("drift_missing_column", good[["f1", "f2", "label"]])
    not_parquet = folder / "not_parquet.parquet"
    not_parquet.write_text("this is not parquet\n")
    out["not_parquet"] = str(not_parquet)
    corrupt = folder / "corrupt.joblib"
    corrupt.write_bytes(b"not a pickle at all")
    out["corrupt_model"] = str(corrupt)
    a_file = folder / "a_file.txt"
    a_file.write_text("x")
    out["a_file"] = str(a_file)
    return out


def run_task(operator: Any, context: dict[str, Any]) -> Any:
    """Render the template fields as the task runner does (checks run there too), then execute."""
    operator.render_template_fields(context)
    return operator.execute(context)


@dataclass(frozen=True)
class Case:
    """One bad input: how to build the operator, what must be refused, and how.

    ``params`` are DAG params: templated values (``"{{ params.x }}"``) render from them
    before execute, as in a manual run with conf. ``at_parse`` says the value is a
    literal refused when the operator is constructed (when the DAG file is parsed).
    """

    id: str
    build: Callable[..., Any]
    error: type[Exception]
    field: str
    params: dict[str, Any] = field(default_factory=dict)
    at_parse: bool = False

    def param(self) -> Any:
        return pytest.param(self, id=self.id)


def expect_refusal(case: Case, before: Callable[[], Any], after: Callable[[], Any] | None = None) -> Exception:
    """Run ``case``; assert the typed error naming its field, no retry, and nothing written.

    ``before()`` snapshots the registry; ``after`` (default: ``before`` again) is compared with it.
    """
    snapshot = before()
    context = {**task_context(case.id), "params": case.params}
    if case.at_parse:
        with pytest.raises(InvalidInputError) as parsed:
            case.build()
        error: Exception = parsed.value
    else:
        operator = case.build()
        with pytest.raises(AirflowFailException) as failed:
            run_task(operator, context)
        error = failed.value.__cause__  # type: ignore[assignment]
        assert str(failed.value).startswith(f"{case.field}"), str(failed.value)
    assert isinstance(error, case.error), f"{type(error).__name__}: {error}"
    assert isinstance(error, InvalidInputError)
    assert error.field.startswith(case.field), f"field {error.field!r}: {error}"
    assert str(error).startswith(f"{case.field}"), str(error)
    assert (after or before)() == snapshot, "the registry changed"
    return error
