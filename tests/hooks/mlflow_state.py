"""Snapshots of a local MLflow registry: every table of its sqlite store and every file of
its artifact tree, to assert that a failed call changed nothing."""

from __future__ import annotations

import hashlib
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any


def sqlite_dump(db_path: str | Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, sorted (read-only: the dump itself changes nothing)."""
    with closing(sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)) as db:
        tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        return {t: sorted(db.execute(f'SELECT * FROM "{t}"').fetchall(), key=repr) for t in tables}


def file_tree(root: str | Path) -> dict[str, str]:
    """``{relative path: sha256}`` of every file under ``root`` (empty when it does not exist)."""
    base = Path(root)
    if not base.exists():
        return {}
    return {
        p.relative_to(base).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(base.rglob("*"))
        if p.is_file()
    }


def registry_state(tracking_uri: str) -> tuple[str, dict[str, list[tuple[Any, ...]]], dict[str, str]]:
    """The store's file digest, its tables and the files beside it (``mlartifacts``) of a sqlite registry."""
    db = Path(tracking_uri.removeprefix("sqlite:///"))
    return hashlib.sha256(db.read_bytes()).hexdigest(), sqlite_dump(db), file_tree(db.parent / "mlartifacts")
