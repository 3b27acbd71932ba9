"""Round trips to Snowflake per operator: ours against the minimum the library needs.

Each operation runs twice on identical copies of the scripted account
(``tests/snowflake/session_double.py``), which records every round trip: SQL
statements, describe-only requests and file PUT/GET.

* ours: the operator's ``execute()`` with a ``snowflake`` connection, everything the
  provider adds included: the privilege preflight (``SHOW MODELS`` owner check,
  ``SHOW GRANTS TO ROLE``), the ``INFORMATION_SCHEMA.PACKAGES`` check, the integrity
  manifest, the audit trail.
* minimum: hand-written direct use of snowflake-ml-python's public API doing the same
  work (same session setup, registry, model files, metadata written, aliases moved,
  rows scored, grants applied and read back), the way a careful user would write it.

Goal: ours <= 1.1 x minimum. Run: ``.venv/bin/python -m bench.snowflake_sql [--show-sql]``.
Exits 1 when an operation misses the goal.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import tempfile
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

GOAL = 1.1
CONN = "snowflake_default"
DATABASE, SCHEMA, MODEL = "ML", "REGISTRY", "CHURN"


@dataclass
class Case:
    name: str
    state: str
    ours: Callable[[], Any]
    minimum: Callable[[], Any]


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Swallow the library's progress bars and the operators' log lines."""
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        yield


def _environment() -> None:
    os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="bench-airflow-"))
    os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "ERROR")
    os.environ[f"AIRFLOW_CONN_{CONN.upper()}"] = json.dumps(
        {
            "conn_type": "snowflake",
            "login": "airflow",
            "password": "not-used",
            "schema": SCHEMA,
            "extra": {"account": "acme-analytics", "database": DATABASE, "warehouse": "COMPUTE_WH"},
        }
    )
    warnings.filterwarnings("ignore")


def main(argv: list[str]) -> int:
    _environment()
    import logging

    logging.disable(logging.WARNING)
    import joblib
    import pandas as pd

    from airflow_registry_provider import tags as tag_keys
    from airflow_registry_provider.artifacts import pinned_requirements
    from airflow_registry_provider.hooks.snowflake import SnowflakeRegistryHook
    from airflow_registry_provider.operators import (
        BatchInferenceOperator,
        GrantModelOperator,
        LogModelOperator,
        PromoteVersionOperator,
        ValidateMetricsOperator,
    )
    from tests.helpers import FEATURES, make_data, make_model_files, task_context
    from tests.snowflake.session_double import SnowflakeDouble

    workdir = Path(tempfile.mkdtemp(prefix="bench-snowflake-"))
    paths = make_model_files(workdir)
    (workdir / "two").mkdir()
    paths2 = make_model_files(workdir / "two", seed=1)
    sample = pd.read_parquet(paths["sample"])
    validation = pd.read_parquet(paths["validation"])
    scoring = make_data(500, seed=7)[FEATURES].assign(customer_id=range(500))

    def log_operator(files: dict[str, str], version_name: str) -> LogModelOperator:
        return LogModelOperator(
            task_id="log_model",
            registry_conn_id=CONN,
            model_name="churn",
            model=files["model"],
            version_name=version_name,
            sample_input=files["sample"],
            metrics={"accuracy": 0.9},
            description="Churn classifier",
        )

    # -- account states the cases start from (built with the hook; not counted) -------------
    def build(steps: Callable[[SnowflakeRegistryHook], None]) -> dict[str, Any]:
        double = SnowflakeDouble(DATABASE, SCHEMA)
        with double.installed(), quiet():
            steps(SnowflakeRegistryHook(CONN))
        return double.snapshot()

    def two_versions(hook: SnowflakeRegistryHook) -> None:
        log_operator(paths, "1.0.0").execute(task_context())
        log_operator(paths2, "1.0.1").execute(task_context())
        passed = {tag_keys.VALIDATION_STATUS: tag_keys.VALIDATION_PASSED}
        hook.set_version_tags(MODEL, "V1_0_0", passed)
        hook.set_alias(MODEL, "champion", "V1_0_0")
        hook.set_default_version(MODEL, "V1_0_0")

    def promoted(hook: SnowflakeRegistryHook) -> None:
        two_versions(hook)
        hook.set_version_tags(MODEL, "V1_0_1", {tag_keys.VALIDATION_STATUS: tag_keys.VALIDATION_PASSED})

    def after_promotion(hook: SnowflakeRegistryHook) -> None:
        promoted(hook)
        PromoteVersionOperator(
            task_id="promote", registry_conn_id=CONN, model_version={"model_name": MODEL, "version": "V1_0_1"}
        ).execute(task_context())

    states = {
        "empty": SnowflakeDouble(DATABASE, SCHEMA).snapshot(),
        "logged": build(lambda hook: log_operator(paths, "1.0.0").execute(task_context())),
        "two_versions": build(two_versions),
        "promoted": build(promoted),
        "after_promotion": build(after_promotion),
    }

    # -- the hand-written direct use of the library --------------------------------------------
    # Sessions the hand-written tasks opened: closed at the end of each, as a task must (ours
    # closes its hook's session too, and that round trip is counted on both sides).
    opened: list[Any] = []

    def session_and_registry(open_registry: bool = True) -> tuple[Any, Any]:
        from airflow.providers.snowflake.hooks.snowflake import SnowflakeHook
        from snowflake.ml.registry import Registry

        session = SnowflakeHook(snowflake_conn_id=CONN).get_snowpark_session()
        opened.append(session)
        registry = Registry(session, database_name=DATABASE, schema_name=SCHEMA) if open_registry else None
        return session, registry

    def metadata(versions: pd.DataFrame, version: str) -> dict[str, Any]:
        """A version's metadata from one ``Model.show_versions()`` listing."""
        return json.loads(versions[versions["name"] == version].iloc[0]["metadata"] or "{}")

    def holder(versions: pd.DataFrame, alias: str) -> str:
        return str(versions[versions["aliases"].map(lambda a: alias in json.loads(a))].iloc[0]["name"])

    def set_tags(mv: Any, current: dict[str, Any], tags: dict[str, str]) -> None:
        """Tags as one metric holding a dict: the public API's only way into version metadata."""
        mv.set_metric("airflow_registry", {**current.get("metrics", {}).get("airflow_registry", {}), **tags})

    def minimum_log_new() -> None:
        _, registry = session_and_registry()
        estimator = joblib.load(paths["model"])
        tags = {tag_keys.VERSION_NAME: "1.0.0", tag_keys.ARTIFACT_SHA256: "sha", tag_keys.DAG_ID: "test_dag"}
        registry.log_model(
            estimator,
            model_name=MODEL,
            version_name="V1_0_0",
            comment="Churn classifier",
            metrics={"accuracy": 0.9, "airflow_registry": tags},
            sample_input_data=sample,
            conda_dependencies=[p for p in pinned_requirements("sklearn") if not p.startswith("mlflow")],
            target_platforms=["WAREHOUSE"],
        )

    def minimum_log_retry() -> None:
        _, registry = session_and_registry()
        metadata(registry.get_model(MODEL).show_versions(), "V1_0_0")  # compare the stored artifact sha256

    def minimum_validate() -> None:
        from sklearn.metrics import accuracy_score

        _, registry = session_and_registry()
        model = registry.get_model(MODEL)
        versions = model.show_versions()  # the candidate's and the champion's metrics
        current = metadata(versions, "V1_0_1")
        metadata(versions, holder(versions, "CHAMPION"))
        candidate = model.version("V1_0_1")
        inputs = [spec.name for spec in candidate.show_functions()[0]["signature"].inputs]
        predictions = candidate.run(validation[inputs], function_name="predict")
        accuracy_score(validation["label"], predictions.iloc[:, 0])
        set_tags(candidate, current, {tag_keys.VALIDATION_STATUS: "passed"})

    def record_promotion(session: Any, model: Any, promoted: Any, current: dict[str, Any]) -> None:
        """Promotion tags on the version and one model tag write.

        The model tag (an alias history) stands in for what a promotion that is safe under
        concurrency must also write; ours writes its lease instead (claim, plan, release).
        """
        set_tags(promoted, current, {tag_keys.PROMOTED_BY: "alice"})
        model.show_tags()
        history_tag = f'{DATABASE}.{SCHEMA}."{tag_keys.ALIAS_HISTORY}"'
        session.sql(f"CREATE TAG IF NOT EXISTS {history_tag}").collect()
        model.set_tag(history_tag, json.dumps([{"alias": "CHAMPION", "version": promoted.version_name}]))

    def minimum_promote() -> None:
        session, registry = session_and_registry()
        model = registry.get_model(MODEL)
        versions = model.show_versions()  # validation status of the candidate, holders of the aliases
        current = model.version("CHAMPION")
        candidate = model.version("V1_0_1")
        # One alias per version: the champion gives up CHAMPION before it takes PREVIOUS_CHAMPION.
        current.unset_alias("CHAMPION")
        current.set_alias("PREVIOUS_CHAMPION")
        candidate.set_alias("CHAMPION")
        model.default = candidate
        record_promotion(session, model, candidate, metadata(versions, "V1_0_1"))

    def minimum_rollback() -> None:
        session, registry = session_and_registry()
        model = registry.get_model(MODEL)
        versions = model.show_versions()
        current = model.version("CHAMPION")
        previous = model.version("PREVIOUS_CHAMPION")
        current.unset_alias("CHAMPION")
        previous.unset_alias("PREVIOUS_CHAMPION")
        current.set_alias("PREVIOUS_CHAMPION")
        previous.set_alias("CHAMPION")
        model.default = previous
        record_promotion(session, model, previous, metadata(versions, holder(versions, "PREVIOUS_CHAMPION")))

    def minimum_batch() -> None:
        from snowflake.snowpark.functions import col, lit

        session, registry = session_and_registry()
        champion = registry.get_model(MODEL).version("CHAMPION")
        frame = session.table("SCORING")
        scored = champion.run(frame, function_name="predict")
        scored.select(
            col("CUSTOMER_ID"),
            col("OUTPUT_FEATURE_0").alias("PREDICTION"),
            lit(MODEL).alias("MODEL_NAME"),
            lit(champion.version_name).alias("MODEL_VERSION"),
        ).write.save_as_table("CHURN_SCORES", mode="overwrite")
        session.table("CHURN_SCORES").count()

    least_privilege = {"DATA_SCIENTIST": "USAGE", "ML_ENGINEER_RO": "READ"}

    def minimum_grant() -> None:
        session, _ = session_and_registry(open_registry=False)
        on_model = f'MODEL "{DATABASE}"."{SCHEMA}"."{MODEL}"'
        session.sql(f"SHOW GRANTS ON {on_model}").collect()  # what is granted already
        session.sql("SHOW ROLES").collect()  # every grantee exists before the first GRANT (no half-applied plan)
        for role, privilege in least_privilege.items():
            session.sql(f'GRANT {privilege} ON {on_model} TO ROLE "{role}"').collect()
        session.sql(f"SHOW GRANTS ON {on_model}").collect()  # read back

    def promote(**kwargs: Any) -> Callable[[], Any]:
        return lambda: PromoteVersionOperator(task_id="promote", registry_conn_id=CONN, **kwargs).execute(
            task_context()
        )

    cases = [
        Case(
            "LogModel (new model)",
            "empty",
            lambda: log_operator(paths, "1.0.0").execute(task_context()),
            minimum_log_new,
        ),
        Case(
            "LogModel (retry, same artifact)",
            "logged",
            lambda: log_operator(paths, "1.0.0").execute(task_context()),
            minimum_log_retry,
        ),
        Case(
            "ValidateMetrics (inference test, champion)",
            "two_versions",
            lambda: ValidateMetricsOperator(
                task_id="validate",
                registry_conn_id=CONN,
                model_version={"model_name": MODEL, "version": "V1_0_1"},
                thresholds={"accuracy": ">= 0.5"},
                compare_to="champion",
                validation_data=paths["validation"],
                label_column="label",
            ).execute(task_context()),
            minimum_validate,
        ),
        Case(
            "PromoteVersion (champion moves)",
            "promoted",
            promote(model_version={"model_name": MODEL, "version": "V1_0_1"}),
            minimum_promote,
        ),
        Case(
            "PromoteVersion (rollback)", "after_promotion", promote(model_name=MODEL, rollback=True), minimum_rollback
        ),
        Case(
            "BatchInference (table, alias)",
            "two_versions",
            lambda: BatchInferenceOperator(
                task_id="score",
                registry_conn_id=CONN,
                model_name=MODEL,
                input_path="SCORING",
                output_path="CHURN_SCORES",
            ).execute(task_context()),
            minimum_batch,
        ),
        Case(
            "GrantModel (least privilege)",
            "logged",
            lambda: GrantModelOperator(
                task_id="grant", registry_conn_id=CONN, model_name=MODEL, grants=least_privilege
            ).execute(task_context()),
            minimum_grant,
        ),
    ]

    def count(case: Case, run: Callable[[], Any]) -> tuple[int, Counter[str], list[str]]:
        double = SnowflakeDouble(DATABASE, SCHEMA)
        double.restore(states[case.state])
        double.add_table("SCORING", scoring)
        with double.installed(), quiet():
            run()
            while opened:
                opened.pop().close()
            log = list(double.log)  # before the double closes the sessions
        kinds = Counter(rt.kind for rt in log)
        return len(log), kinds, [f"{rt.kind:8} {' '.join(rt.sql.split())[:150]}" for rt in log]

    show_sql = "--show-sql" in argv
    print("Snowflake round trips per operator (SQL statements + describes + file PUT/GET), scripted account")
    print(f"{'operation':44} {'ours':>5} {'minimum':>8} {'ratio':>6}  result   ours: sql/describe/file")
    failed = False
    for case in cases:
        ours, ours_kinds, ours_log = count(case, case.ours)
        minimum, _, minimum_log = count(case, case.minimum)
        ratio = ours / minimum
        ok = ratio <= GOAL
        failed |= not ok
        detail = f"{ours_kinds['query']}/{ours_kinds['describe']}/{ours_kinds['put'] + ours_kinds['get']}"
        print(f"{case.name:44} {ours:5d} {minimum:8d} {ratio:6.2f}  {'OK' if ok else 'FAIL':7}  {detail}")
        if show_sql:
            print("  ours:\n    " + "\n    ".join(ours_log))
            print("  minimum:\n    " + "\n    ".join(minimum_log))
    print(f"goal: ours <= {GOAL} x minimum")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
