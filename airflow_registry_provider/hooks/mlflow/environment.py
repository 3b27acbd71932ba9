"""The only module that touches MLflow's process-global state: ``os.environ``.

MLflow's REST client takes credentials and HTTP retry/timeout settings from environment
variables alone (``mlflow.utils.credentials.get_default_host_creds`` and
``mlflow.utils.rest_utils.http_request`` read them at every request), and so does the
proxied artifact repository. Writes and artifact transfers to a tracking server
therefore run inside :func:`scoped_environment`, which sets the connection's variables
for the duration of the call and restores what was there before.

One process may run several hooks at once (threads of a worker, the triggerer's
triggers), so scopes are shared by key: scopes with the same values overlap, a scope
with other values waits until the current ones have ended (and, once it waits, newcomers
with the current values wait behind it, so it cannot starve). Nesting a scope with other
values inside a scope in the same thread would wait for itself: it raises
:class:`ScopeConflictError` instead. Reads that must not touch this state at all (what a
deferrable sensor polls) go through ``rest.RestReads``, which passes credentials and
retry bounds explicitly and only reads :func:`ambient` values.

The variable names are MLflow's (``mlflow.environment_variables``), pinned by
``tests/hooks/test_mlflow_contract.py``; they are spelled out here so that importing this
module does not import mlflow.
"""

from __future__ import annotations

import os
import threading
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar

ENV_USER = "MLFLOW_TRACKING_USERNAME"
ENV_PASSWORD = "MLFLOW_TRACKING_PASSWORD"  # noqa: S105 - an environment variable name
ENV_MAX_RETRIES = "MLFLOW_HTTP_REQUEST_MAX_RETRIES"
ENV_TIMEOUT = "MLFLOW_HTTP_REQUEST_TIMEOUT"
ENV_BACKOFF = "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR"
#: The variables the hook scopes.
SCOPED_VARIABLES = (ENV_USER, ENV_PASSWORD, ENV_MAX_RETRIES, ENV_TIMEOUT, ENV_BACKOFF)

_Key = frozenset[tuple[str, str]]


class ScopeConflictError(RuntimeError):
    """A scope for other connection settings was opened inside an open scope of the same thread."""


class _SharedScopes:
    """A lock that any number of holders with the same key share; other keys wait their turn."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._active: _Key | None = None
        self._holders = 0
        self._waiting: Counter[_Key] = Counter()
        # The waiters' keys in arrival order: when the lock is free, the oldest waiter's key goes first.
        self._queue: list[_Key] = []
        self._saved: dict[str, str | None] = {}
        # (key, thread id) of the scope the current thread or task is inside.
        self._held: ContextVar[tuple[_Key, int] | None] = ContextVar("arp_mlflow_env_scope", default=None)

    def _others_waiting(self, key: _Key) -> bool:
        return any(count for waiting, count in self._waiting.items() if waiting != key)

    def _may_enter(self, key: _Key) -> bool:
        if self._holders == 0:
            return self._queue[0] == key
        return self._active == key and not self._others_waiting(key)

    @contextmanager
    def hold(self, values: Mapping[str, str]) -> Iterator[None]:
        unknown = [name for name in values if not name.startswith("MLFLOW_")]
        if unknown:
            raise ValueError(f"not an MLflow variable: {sorted(unknown)}")
        key: _Key = frozenset(values.items())
        held = self._held.get()
        if held is not None and held[1] == threading.get_ident():
            if held[0] == key:  # re-entered with the same settings: already in force
                yield
                return
            raise ScopeConflictError(
                "an MLflow call for one connection was started inside a call for another connection "
                "in the same thread; MLflow reads credentials from the process environment, so the "
                "inner call would wait for the outer one forever. Finish the first call before starting the second."
            )
        with self._cond:
            self._waiting[key] += 1
            self._queue.append(key)
            try:
                self._cond.wait_for(lambda: self._may_enter(key))
            finally:
                self._waiting[key] -= 1
                if not self._waiting[key]:
                    del self._waiting[key]
                self._queue.remove(key)  # one waiter of this key (which one does not matter)
                self._cond.notify_all()  # the head of the queue may have changed
            if self._holders == 0:
                self._saved = {name: os.environ.get(name) for name in values}
                os.environ.update(values)
                self._active = key
            self._holders += 1
        token = self._held.set((key, threading.get_ident()))
        try:
            yield
        finally:
            self._held.reset(token)
            with self._cond:
                self._holders -= 1
                if self._holders == 0:
                    for name, old in self._saved.items():
                        if old is None:
                            os.environ.pop(name, None)
                        else:
                            os.environ[name] = old
                    self._saved = {}
                    self._active = None
                self._cond.notify_all()

    def ambient(self, name: str) -> str | None:
        """``name`` as the process environment holds it outside every scope."""
        with self._cond:
            if self._holders and name in self._saved:
                return self._saved[name]
            return os.environ.get(name)

    def active(self) -> bool:
        """Whether any scope is open (for tests and diagnostics)."""
        with self._cond:
            return self._holders > 0


_SCOPES = _SharedScopes()


@contextmanager
def scoped_environment(values: Mapping[str, str]) -> Iterator[None]:
    """Run the block with ``values`` in ``os.environ``; restore the previous values after.

    Blocks while a scope with other values is open in another thread; raises
    :class:`ScopeConflictError` when one is open in this thread. An empty mapping opens
    no scope (local stores need no environment).
    """
    if not values:
        yield
        return
    with _SCOPES.hold(values):
        yield


def ambient(name: str) -> str | None:
    """The value of a scoped variable as the user set it, ignoring any open scope."""
    return _SCOPES.ambient(name)


def scope_active() -> bool:
    """Whether a scope is open anywhere in the process."""
    return _SCOPES.active()
