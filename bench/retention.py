"""Retention over a model with 10,000 versions vs. the bare paged MLflow search of them.

    python -m bench.retention [--versions 10000] [--keep 5] [--eligible 20] [--repeat 3]

Seeding: creating 10,000 versions through MlflowClient takes minutes, so the script
creates ONE version through the client (which also creates the schema), then bulk-INSERTs
the other rows into MLflow's own ``model_versions``/``model_version_tags`` tables with
SQLAlchemy, copying that first row. The model is in a steady state: all but the newest
``keep + eligible`` versions were archived by earlier runs, one old version holds the
``champion`` alias, and ``eligible`` versions are due for archiving now.

Measured (median of ``--repeat`` runs, each on a fresh copy of the seeded store):
  search   the loop every listing needs: search_model_versions pages of 1000, newest first
  dry-run  RetentionOperator(dry_run=True): paged listing + plan, no writes
  apply    RetentionOperator: the same, then archive the eligible versions with an audit
           record each (version tag + audit tag per version, one model audit write)
Store calls are counted to show that the only per-version calls are the changes themselves.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

MODEL = "bench_model"


def seed(path: Path, versions: int, keep: int, eligible: int) -> None:
    import sqlalchemy as sa
    from mlflow import MlflowClient

    from airflow_registry_provider import tags

    uri = f"sqlite:///{path}"
    client = MlflowClient(uri, uri)
    client.create_registered_model(MODEL)
    client.create_model_version(MODEL, source="file:///models/bench")
    engine = sa.create_engine(uri)
    meta = sa.MetaData()
    meta.reflect(engine, only=["model_versions", "model_version_tags"])
    mv_table, tag_table = meta.tables["model_versions"], meta.tables["model_version_tags"]
    with engine.begin() as conn:
        first = dict(conn.execute(sa.select(mv_table)).mappings().one())
        rows = [{**first, "version": n, "creation_time": first["creation_time"] + n} for n in range(2, versions + 1)]
        conn.execute(mv_table.insert(), rows)
        archived_before = versions - keep - eligible
        stamp = "2026-01-01T00:00:00+00:00"
        workspace = {"workspace": first["workspace"]} if "workspace" in tag_table.c else {}
        conn.execute(
            tag_table.insert(),
            [
                {"name": MODEL, "version": n, "key": tags.ARCHIVED, "value": stamp, **workspace}
                for n in range(1, archived_before + 1)
            ],
        )
    client.set_registered_model_alias(MODEL, "champion", "1")


@contextmanager
def counted_store_calls() -> Iterator[Counter[str]]:
    """Count calls to the public methods of MLflow's SQL stores (one call = one round trip to a server)."""
    from mlflow.store.model_registry.sqlalchemy_store import SqlAlchemyStore as RegistryStore
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore as TrackingStore

    counts: Counter[str] = Counter()
    saved: list[tuple[type, str, Any]] = []
    for cls in (RegistryStore, TrackingStore):
        for name, member in vars(cls).items():
            if name.startswith("_") or not callable(member) or isinstance(member, (staticmethod, classmethod)):
                continue

            def wrapper(*args: Any, _f: Callable[..., Any] = member, _n: str = name, **kwargs: Any) -> Any:
                counts[_n] += 1
                return _f(*args, **kwargs)

            saved.append((cls, name, member))
            setattr(cls, name, wrapper)
    try:
        yield counts
    finally:
        for cls, name, member in saved:
            setattr(cls, name, member)


def bare_search(uri: str) -> int:
    from mlflow import MlflowClient

    client, token, seen = MlflowClient(uri, uri), None, 0
    while True:
        page = client.search_model_versions(
            f"name = '{MODEL}'", max_results=1000, order_by=["version_number DESC"], page_token=token
        )
        seen += len(page)
        token = page.token
        if not token:
            return seen


def retention(keep: int, dry_run: bool) -> dict[str, Any]:
    from airflow_registry_provider.operators import RetentionOperator
    from tests.helpers import task_context

    op = RetentionOperator(task_id="retention", model_name=MODEL, keep_latest=keep, dry_run=dry_run)
    return op.execute(task_context("retention"))


def timed(seeded: Path, work: Callable[[str], Any], repeat: int) -> tuple[float, Any, Counter[str]]:
    times, result, counts = [], None, Counter[str]()
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as tmp:
            db = Path(tmp) / "mlflow.db"
            shutil.copyfile(seeded, db)
            uri = f"sqlite:///{db}"
            os.environ["AIRFLOW_CONN_MLFLOW_DEFAULT"] = json.dumps(
                {"conn_type": "mlflow_registry", "extra": {"tracking_uri": uri}}
            )
            with counted_store_calls() as counts:
                start = time.perf_counter()
                result = work(uri)
                times.append(time.perf_counter() - start)
    return statistics.median(times), result, counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--versions", type=int, default=10_000)
    parser.add_argument("--keep", type=int, default=5)
    parser.add_argument("--eligible", type=int, default=20, help="versions due for archiving in the run")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    os.environ.setdefault("AIRFLOW__CORE__UNIT_TEST_MODE", "True")

    with tempfile.TemporaryDirectory() as tmp:
        seeded = Path(tmp) / "seed.db"
        start = time.perf_counter()
        seed(seeded, args.versions, args.keep, args.eligible)
        print(
            f"seeded {args.versions} versions (1 via MlflowClient, the rest by bulk INSERT) "
            f"in {time.perf_counter() - start:.1f}s"
        )
        # Warm-up, so that imports and SQLAlchemy's caches stay out of the timings.
        timed(seeded, bare_search, 1)
        timed(seeded, lambda _uri: retention(args.keep, True), 1)

        search_s, seen, search_calls = timed(seeded, bare_search, args.repeat)
        dry_s, plan, dry_calls = timed(seeded, lambda _uri: retention(args.keep, True), args.repeat)
        apply_s, done, apply_calls = timed(seeded, lambda _uri: retention(args.keep, False), args.repeat)

    assert seen == plan["total"] == args.versions
    assert len(plan["archive"]) == len(done["archive"]) == args.eligible
    print(f"\n{'run':<10}{'seconds':>9}{'x search':>10}  store calls")
    for name, seconds, calls in (
        ("search", search_s, search_calls),
        ("dry-run", dry_s, dry_calls),
        ("apply", apply_s, apply_calls),
    ):
        detail = ", ".join(f"{k} {v}" for k, v in sorted(calls.items()))
        print(f"{name:<10}{seconds:>9.3f}{seconds / search_s:>9.2f}x  {sum(calls.values())}: {detail}")
    print(f"\nplan: {json.dumps(plan['kept'])}; archived {len(done['archive'])} versions in the apply run")
    print(f"goal: retention <= 2x search -> dry-run {dry_s / search_s:.2f}x, apply {apply_s / search_s:.2f}x")


if __name__ == "__main__":
    main()
