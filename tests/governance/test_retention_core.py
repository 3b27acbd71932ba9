from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from airflow_registry_provider import tags
from airflow_registry_provider.exceptions import InvalidInputError
from airflow_registry_provider.governance.retention import RetentionPolicy, plan_retention
from airflow_registry_provider.model_version import ModelVersion

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def mv(n: int, *, aliases=(), stage=None, archived: datetime | None = None) -> ModelVersion:
    return ModelVersion(
        model_name="churn",
        version=str(n),
        uri=f"models:/churn/{n}",
        aliases=tuple(aliases),
        stage=stage,
        tags={tags.ARCHIVED: archived.isoformat()} if archived else {},
        created_at=NOW - timedelta(days=1000 - n),
    )


def test_keeps_latest_and_protected_archives_the_rest() -> None:
    versions = [mv(n) for n in range(1, 11)]
    versions[0] = mv(1, aliases=["champion"])
    versions[1] = mv(2, stage="Production")
    plan = plan_retention("churn", reversed(versions), RetentionPolicy(keep_latest=3), now=NOW, default_version="3")
    assert [v.version for v in plan.archive] == ["7", "6", "5", "4"]
    assert plan.delete == ()
    assert plan.kept == {"holds an alias": 1, "Production stage": 1, "default version": 1, "latest 3": 3}
    assert plan.total == 10
    assert "archive   4: 7, 6, 5, 4" in plan.describe()


def test_per_stage() -> None:
    versions = [mv(n, stage="Staging" if n % 2 else None) for n in range(1, 9)]
    plan = plan_retention("churn", versions, RetentionPolicy(keep_latest=2, per_stage=True), now=NOW)
    assert sorted(v.version for v in plan.archive) == ["1", "2", "3", "4"]
    assert plan.kept == {"latest 2 in Staging": 2, "latest 2 in no stage": 2}


def test_archived_versions_are_deleted_only_after_the_period() -> None:
    versions = [
        mv(1, archived=NOW - timedelta(days=40)),
        mv(2, archived=NOW - timedelta(days=10)),
        mv(3, stage="Archived"),  # archived by someone else: no time known, never deleted
        mv(4, aliases=["old"], archived=NOW - timedelta(days=400)),  # an alias protects even archived versions
        mv(5),
    ]
    keep_forever = plan_retention("churn", versions, RetentionPolicy(keep_latest=1), now=NOW)
    assert (keep_forever.archive, keep_forever.delete) == ((), ())
    plan = plan_retention("churn", versions, RetentionPolicy(keep_latest=1, delete_after=timedelta(days=30)), now=NOW)
    assert [v.version for v in plan.delete] == ["1"]
    assert plan.kept["archived, within the retention period"] == 2


@pytest.mark.parametrize("keep", [0, -1, 1.5, True, "3"])
def test_bad_keep_latest(keep) -> None:
    with pytest.raises(InvalidInputError, match="keep_latest"):
        RetentionPolicy(keep_latest=keep)


version_specs = st.lists(
    st.tuples(
        st.booleans(),  # holds an alias
        st.sampled_from([None, "Staging", "Production", "Archived"]),
        st.sampled_from([None, 5, 50]),  # archived this many days ago
    ),
    max_size=40,
)


@given(specs=version_specs, keep=st.integers(1, 5), per_stage=st.booleans(), delete=st.sampled_from([None, 30]))
def test_properties(specs, keep: int, per_stage: bool, delete: int | None) -> None:
    versions = [
        mv(n, aliases=["a"] if alias else (), stage=stage, archived=NOW - timedelta(days=age) if age else None)
        for n, (alias, stage, age) in enumerate(specs, start=1)
    ]
    policy = RetentionPolicy(keep, per_stage, timedelta(days=delete) if delete else None)
    plan = plan_retention("churn", versions, policy, now=NOW, default_version="1")
    touched = {v.version for v in (*plan.archive, *plan.delete)}
    assert len(touched) == len(plan.archive) + len(plan.delete)
    assert len(touched) + sum(plan.kept.values()) == len(versions) == plan.total
    for v in versions:
        if v.aliases or v.version == "1" or v.stage == "Production":
            assert v.version not in touched
    assert all(tags.ARCHIVED not in v.tags and v.stage != "Archived" for v in plan.archive)
    live = [v for v in versions if v.version not in touched and not (v.aliases or v.version == "1")]
    live = [v for v in live if v.stage not in ("Production", "Archived") and tags.ARCHIVED not in v.tags]
    groups = {(v.stage if per_stage else None) for v in live}
    for group in groups:
        assert sum(1 for v in live if (v.stage if per_stage else None) == group) <= keep
    # Every archived version is older than every kept live version of its group.
    for archived in plan.archive:
        group = archived.stage if per_stage else None
        assert all(int(k.version) > int(archived.version) for k in live if (k.stage if per_stage else None) == group)
