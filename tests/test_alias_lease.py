"""The alias lease over a last-writer-wins tag store (``alias_lease.py``), without a registry."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from airflow_registry_provider.alias_lease import AliasLease, Claim, lease_key
from airflow_registry_provider.exceptions import RegistryUnavailableError


class TagStore:
    """``get_model_tags``/``set_model_tags`` of one model: last writer wins, as on MLflow and Snowflake."""

    def __init__(self) -> None:
        self.tags: dict[str, str] = {}
        self.lock = threading.Lock()

    def get_model_tags(self, model_name: str) -> dict[str, str]:
        with self.lock:
            return dict(self.tags)

    def set_model_tags(self, model_name: str, tags: dict[str, str]) -> None:
        time.sleep(0.005)  # a round trip: writes from several tasks interleave
        with self.lock:
            self.tags.update(tags)


def _lease(store: TagStore, owner: str, **kwargs: Any) -> AliasLease:
    return AliasLease(store, "churn", "champion", owner, settle=0.05, **kwargs)  # type: ignore[arg-type]


def test_tasks_racing_for_the_lease_hold_it_one_at_a_time() -> None:
    store, inside, overlaps = TagStore(), [], []
    start = threading.Barrier(6)

    def task(owner: str) -> None:
        lease = _lease(store, owner)
        start.wait()
        lease.acquire()
        inside.append(owner)
        if len(inside) > 1:
            overlaps.append(tuple(inside))
        time.sleep(0.02)
        inside.remove(owner)
        lease.release()

    threads = [threading.Thread(target=task, args=(f"task{i}",)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert overlaps == []
    assert store.tags[lease_key("champion")] == ""


def test_a_retry_takes_its_own_claim_back_with_the_plan_and_others_wait_or_take_over_expired_ones() -> None:
    store = TagStore()
    first = _lease(store, "task-a")
    assert first.acquire() is None
    first.record_plan({"to": "2", "alias_from": "1"})  # then the worker dies: no release
    with pytest.raises(RegistryUnavailableError, match="held by task task-a"):
        _lease(store, "task-b", timeout=0.2).acquire()
    assert _lease(store, "task-a").acquire() == {"to": "2", "alias_from": "1"}, "the retry finds its plan"
    expired = Claim("task-a", until=time.time() - 1, plan={"to": "2"})
    store.tags[lease_key("champion")] = expired.encode()
    assert _lease(store, "task-b", timeout=0.2).acquire() is None, "an expired claim is free, its plan not ours"
