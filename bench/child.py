"""Run one contender of a benchmark in a child process: its JSON result, wall time and peak RSS.

A child is ``python <script> --child <role> <args...>`` and prints one JSON line last.
Peak RSS is the child's own (``ru_maxrss`` from ``os.wait4``), so contenders are measured
apart from the parent and from each other.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path


def run_child(script: str, args: Sequence[str], env: Mapping[str, str] | None = None) -> tuple[dict, float, int]:
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, script, "--child", *args], stdout=subprocess.PIPE, env=dict(env) if env else None
    )
    assert proc.stdout is not None
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    proc.returncode = code
    if code != 0:
        raise SystemExit(f"child {args[0]} failed with exit code {code}")
    return json.loads(out.decode().strip().splitlines()[-1]), wall, usage.ru_maxrss * 1024


def child_main(handlers: Mapping[str, object], argv: Sequence[str]) -> int:
    """Dispatch ``argv`` (role, *args) to ``handlers[role](*args)`` and print its JSON result."""
    role, *rest = argv
    result = handlers[role](*rest)  # type: ignore[operator]
    sys.stdout.flush()
    print(json.dumps(result))
    return 0


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} / {five:.2f} / {fifteen:.2f} on {os.cpu_count()} cores"


def bench_parser(doc: str, *, rows: int, rounds: int) -> argparse.ArgumentParser:
    """The options the scoring benchmarks share; ``--child`` is how a contender's process is run."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--rows", type=int, default=rows)
    parser.add_argument("--batch-size", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=rounds)
    parser.add_argument("--child", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    return parser


def data_handlers() -> dict[str, object]:
    """Child roles that make the shared scoring data and model (``bench/batch_inference.py``'s)."""
    from bench.batch_inference import child_generate, child_register

    return {
        "generate": lambda path, rows: child_generate(Path(path), int(rows)),
        "register": lambda work: child_register(Path(work)),
    }


def prepare(script: str, sources: Sequence[Path], rows: int, prefix: str, *roles: str) -> Path:
    """Generate the missing input files, make a work folder under ``bench/out``, and run the
    ``register`` role and then ``roles`` in it; return the folder."""
    import tempfile

    from bench.batch_inference import OUT

    for source in sources:
        if not source.exists():
            source.parent.mkdir(parents=True, exist_ok=True)
            run_child(script, ["generate", str(source), str(rows)])
    work = Path(tempfile.mkdtemp(prefix=prefix, dir=OUT))
    for role in ("register", *roles):
        run_child(script, [role, str(work)])
    return work
