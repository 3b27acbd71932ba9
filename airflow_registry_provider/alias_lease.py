"""A lease on one alias of one model, kept in a model tag: alias moves by many tasks, one at a time.

Registries offer no compare-and-set on aliases or tags (MLflow's and Snowflake's are
last-writer-wins), and a promotion is a read (who holds the alias) followed by writes that
depend on it. Two interleaved promotions would each record replacing the same holder. The
lease serialises them with timed mutual exclusion over a register (Fischer's algorithm):

1. read the lease tag; wait while another task's unexpired claim is in it;
2. write our claim, wait ``settle`` seconds, read it back;
3. hold the lease only if our claim survived, else go back to 1.

A competitor that read the lease as free before our write lands its own write within one
registry round trip, so it is seen by step 3 as long as ``settle`` exceeds that round trip;
whoever is overwritten backs off. A claim expires after ``ttl`` seconds, so a worker that
died holding it blocks others for at most that long.

The claim also carries the move's *plan*: the state the task found before its first write
(who held the alias and the previous alias, the stage, the default version). A task whose
attempt failed after writing keeps its claim; its retry (same dag, run, task and map index)
takes the claim back with the plan and completes the same move with the same audit records,
instead of mistaking its own half-applied change for the starting state.

The lease tag is coordination state, not a change to the model: it is emptied on release
and not audited. Writers that do not take the lease (a person in the registry UI) are not
serialised by it.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_registry_provider import tags as tag_keys
from airflow_registry_provider.exceptions import RegistryUnavailableError

if TYPE_CHECKING:
    from airflow_registry_provider.hooks.base import RegistryHook

LEASE_PREFIX = tag_keys.PREFIX + "alias_lease."
#: Longer than one registry round trip under load (see the module docstring).
SETTLE_SECONDS = 0.5
TTL_SECONDS = 600.0
POLL_SECONDS = 0.25


def lease_key(alias: str) -> str:
    """The model tag holding the lease on ``alias``."""
    return LEASE_PREFIX + alias


def owner_token(dag_id: str | None, run_id: str | None, task_id: str | None, map_index: int | None) -> str:
    """A task instance's short, stable id: the same for every try, within Snowflake's 256-character tags."""
    key = f"{dag_id}/{run_id}/{task_id}/{-1 if map_index is None else map_index}"
    return hashlib.sha256(key.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Claim:
    """What a lease tag holds: its owner, until when, and the owner's plan once it has one."""

    owner: str
    until: float
    plan: dict[str, Any] | None = None

    def encode(self) -> str:
        return json.dumps({"owner": self.owner, "until": round(self.until, 3), "plan": self.plan}, sort_keys=True)

    @classmethod
    def decode(cls, text: str | None) -> Claim | None:
        """The claim in a tag value; None for a free lease (absent, empty or unreadable)."""
        if not text:
            return None
        try:
            data = json.loads(text)
            return cls(str(data["owner"]), float(data["until"]), data.get("plan"))
        except (ValueError, TypeError, KeyError):
            return None


class AliasLease:
    """The lease on ``alias`` of ``model_name`` for task instance ``owner`` (see the module docstring).

    :param timeout: Seconds to wait for another task's claim before failing with
        :class:`RegistryUnavailableError` (a transient error: Airflow retries the task).
    """

    def __init__(
        self,
        hook: RegistryHook,
        model_name: str,
        alias: str,
        owner: str,
        *,
        timeout: float = 300.0,
        settle: float | None = None,
        ttl: float = TTL_SECONDS,
    ) -> None:
        self.hook = hook
        self.model_name = model_name
        self.key = lease_key(alias)
        self.owner = owner
        self.timeout = timeout
        self.settle = SETTLE_SECONDS if settle is None else settle
        self.ttl = ttl
        self.held: Claim | None = None

    def _read(self) -> Claim | None:
        return Claim.decode(self.hook.get_model_tags(self.model_name).get(self.key))

    def _write(self, claim: Claim | None) -> None:
        self.hook.set_model_tags(self.model_name, {self.key: claim.encode() if claim else ""})

    def acquire(self) -> dict[str, Any] | None:
        """Wait for the lease and take it; return the plan of this owner's earlier attempt, if any."""
        deadline = time.monotonic() + self.timeout
        while True:
            found = self._read()
            if found is None or found.owner == self.owner or found.until < time.time():
                plan = found.plan if found is not None and found.owner == self.owner else None
                claim = Claim(self.owner, time.time() + self.ttl, plan)
                self._write(claim)
                time.sleep(self.settle)
                survived = self._read()
                if survived is not None and survived.owner == self.owner:
                    self.held = claim
                    return plan
                found = survived
            if time.monotonic() > deadline:
                holder = f"task {found.owner} until {time.ctime(found.until)}" if found else "a competing task"
                raise RegistryUnavailableError(
                    f"alias lease {self.key} of {self.model_name} is held by {holder}; waited {self.timeout:.0f} s"
                )
            time.sleep(POLL_SECONDS * (0.5 + random.random()))  # noqa: S311 - jitter, not cryptography

    def record_plan(self, plan: dict[str, Any]) -> None:
        """Store the plan in the claim before the first write it describes."""
        if self.held is None:
            raise RuntimeError("record_plan() before acquire()")
        self.held = Claim(self.owner, time.time() + self.ttl, plan)
        self._write(self.held)

    def release(self) -> None:
        """Empty the lease if it is still ours (an expired claim may have been taken over)."""
        if self.held is None:
            return
        found = self._read()
        if found is not None and found.owner == self.owner:
            self._write(None)
        self.held = None
