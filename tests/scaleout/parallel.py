"""Run operator tasks in parallel processes, lined up at one registry call.

Each task runs in a process forked from the test (an Airflow task is a process of its own;
forking after mlflow and airflow are imported keeps 16 of them cheap). A barrier placed
in front of one method (a registry or database call) makes every process reach the registry at the same
moment, which is where races live.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import threading
import traceback
from collections.abc import Callable, Sequence
from typing import Any

TIMEOUT = 90.0


def _child(
    index: int, task: Callable[[int], Any], barrier: Any, barrier_at: str | None, queue: multiprocessing.Queue
) -> None:
    try:
        if barrier_at is not None:
            from airflow.sdk.module_loading import import_string

            owner_path, _, method = barrier_at.rpartition(".")
            owner = import_string(owner_path)
            original = getattr(owner, method)

            def lined_up(self: Any, *args: Any, **kwargs: Any) -> Any:
                # A task that failed before the barrier breaks it: the others go on, unsynchronised.
                with contextlib.suppress(threading.BrokenBarrierError):
                    barrier.wait(timeout=TIMEOUT)
                return original(self, *args, **kwargs)

            setattr(owner, method, lined_up)
        queue.put((index, True, task(index)))
    except BaseException as err:  # reported to the parent, whatever it is
        barrier.abort()
        queue.put((index, False, f"{type(err).__name__}: {err}\n{traceback.format_exc()[-3000:]}"))


def run_parallel(task: Callable[[int], Any], n: int, *, barrier_at: str | None = None) -> list[tuple[bool, Any]]:
    """Run ``task(i)`` for i in range(n) in n forked processes; return ``(ok, result or error)`` by i.

    ``barrier_at`` is a method's dotted path (``mlflow.store.model_registry.rest_store.RestStore.create_model_version``):
    every process waits there until all have reached it.
    """
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(n)
    queue: multiprocessing.Queue = context.Queue()
    processes = [context.Process(target=_child, args=(i, task, barrier, barrier_at, queue)) for i in range(n)]
    for process in processes:
        process.start()
    results: dict[int, tuple[bool, Any]] = {}
    try:
        for _ in range(n):
            index, ok, value = queue.get(timeout=TIMEOUT)
            results[index] = (ok, value)
    finally:
        for process in processes:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()
                process.join()
    return [results[i] for i in range(n)]


def errors(results: Sequence[tuple[bool, Any]]) -> list[str]:
    return [str(value) for ok, value in results if not ok]
