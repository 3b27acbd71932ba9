"""``hooks/mlflow/environment.py``: MLflow's environment variables scoped safely for many connections."""

from __future__ import annotations

import asyncio
import contextvars
import os
import threading
import time

import pytest

from airflow_registry_provider.hooks.mlflow.environment import (
    _SCOPES,
    ENV_PASSWORD,
    ENV_USER,
    ScopeConflictError,
    ambient,
    scope_active,
    scoped_environment,
)

ALICE = {ENV_USER: "alice", ENV_PASSWORD: "alice-pw"}
BOB = {ENV_USER: "bob", ENV_PASSWORD: "bob-pw"}
WAIT = 10.0


def _credentials() -> tuple[str | None, str | None]:
    return os.environ.get(ENV_USER), os.environ.get(ENV_PASSWORD)


def test_values_are_set_inside_and_restored_after(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_USER, "the-users-own")
    monkeypatch.delenv(ENV_PASSWORD, raising=False)
    with scoped_environment(ALICE):
        assert _credentials() == ("alice", "alice-pw")
        assert ambient(ENV_USER) == "the-users-own" and ambient(ENV_PASSWORD) is None
        assert scope_active()
    assert _credentials() == ("the-users-own", None)
    assert not scope_active()


def test_restored_after_an_error() -> None:
    with pytest.raises(RuntimeError, match="boom"), scoped_environment(ALICE):
        raise RuntimeError("boom")
    assert _credentials() == (None, None)


def test_empty_scope_touches_nothing() -> None:
    with scoped_environment({}):
        assert not scope_active()


def test_only_mlflow_variables() -> None:
    with pytest.raises(ValueError, match="not an MLflow variable"), scoped_environment({"PATH": "/"}):
        pass


def test_same_settings_overlap() -> None:
    both_inside = threading.Barrier(2, timeout=WAIT)

    def call() -> None:
        with scoped_environment(ALICE):
            both_inside.wait()  # only passes if the two scopes are open at the same time
            assert _credentials() == ("alice", "alice-pw")

    threads = [threading.Thread(target=call) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT)
    assert not both_inside.broken


def test_other_settings_wait_and_never_see_each_other() -> None:
    seen: dict[str, list[tuple[str | None, str | None]]] = {"alice": [], "bob": []}
    alice_inside, release_alice = threading.Event(), threading.Event()
    bob_entered = threading.Event()

    def alice() -> None:
        with scoped_environment(ALICE):
            alice_inside.set()
            while not release_alice.is_set():
                seen["alice"].append(_credentials())
                time.sleep(0.005)

    def bob() -> None:
        alice_inside.wait(WAIT)
        with scoped_environment(BOB):
            bob_entered.set()
            seen["bob"].append(_credentials())

    threads = [threading.Thread(target=alice), threading.Thread(target=bob)]
    for t in threads:
        t.start()
    assert alice_inside.wait(WAIT)
    assert not bob_entered.wait(0.3)  # bob waits while alice's call runs
    release_alice.set()
    for t in threads:
        t.join(WAIT)
    assert bob_entered.is_set()
    assert set(seen["alice"]) == {("alice", "alice-pw")}
    assert seen["bob"] == [("bob", "bob-pw")]
    assert _credentials() == (None, None)


def _until_waiting(values: dict[str, str]) -> None:
    """Block until a thread with ``values`` is queued on the shared lock (no sleep-and-hope)."""
    deadline = time.monotonic() + WAIT
    while not _SCOPES._waiting.get(frozenset(values.items())):
        assert time.monotonic() < deadline, f"no thread queued for {values[ENV_USER]}"
        time.sleep(0.005)


def test_a_waiting_connection_is_not_starved() -> None:
    order: list[str] = []
    first_inside, release_first = threading.Event(), threading.Event()

    def hold(values: dict[str, str], name: str, started: threading.Event | None = None) -> None:
        with scoped_environment(values):
            order.append(name)
            if started is not None:
                started.set()
                release_first.wait(WAIT)

    first = threading.Thread(target=hold, args=(ALICE, "alice-1", first_inside))
    first.start()
    assert first_inside.wait(WAIT)
    waiting_bob = threading.Thread(target=hold, args=(BOB, "bob"))
    waiting_bob.start()
    _until_waiting(BOB)
    late_alice = threading.Thread(target=hold, args=(ALICE, "alice-2"))
    late_alice.start()
    _until_waiting(ALICE)
    assert order == ["alice-1"]  # the late alice does not jump ahead of bob
    release_first.set()
    for t in (first, waiting_bob, late_alice):
        t.join(WAIT)
    assert order == ["alice-1", "bob", "alice-2"]


def test_nesting_other_settings_in_one_thread_fails_instead_of_deadlocking() -> None:
    with scoped_environment(ALICE):
        with scoped_environment(ALICE):  # the same settings again: fine
            assert _credentials() == ("alice", "alice-pw")
        with pytest.raises(ScopeConflictError, match="another connection"), scoped_environment(BOB):
            pass
        assert _credentials() == ("alice", "alice-pw")
    assert _credentials() == (None, None)


def test_a_thread_that_inherits_the_context_takes_its_own_turn() -> None:
    """contextvars copied into a worker thread do not count as being inside the scope."""
    result: list[tuple[str | None, str | None]] = []

    def worker() -> None:
        with scoped_environment(BOB):
            result.append(_credentials())

    with scoped_environment(ALICE):
        context = contextvars.copy_context()
        thread = threading.Thread(target=context.run, args=(worker,))
        thread.start()
        time.sleep(0.2)
        assert result == []  # waits for the alice scope rather than raising or overlapping
    thread.join(WAIT)
    assert result == [("bob", "bob-pw")]


def test_asyncio_tasks_on_worker_threads() -> None:
    async def call(values: dict[str, str]) -> tuple[str | None, str | None]:
        def inside() -> tuple[str | None, str | None]:
            with scoped_environment(values):
                time.sleep(0.05)
                return _credentials()

        return await asyncio.to_thread(inside)

    async def main() -> list[tuple[str | None, str | None]]:
        return list(await asyncio.gather(*(call(v) for v in (ALICE, BOB, ALICE, BOB))))

    assert asyncio.run(main()) == [("alice", "alice-pw"), ("bob", "bob-pw")] * 2
    assert _credentials() == (None, None)
