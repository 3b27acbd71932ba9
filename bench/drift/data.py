"""Seeded bench data: reference, drifted current batch and a no-drift control batch.

1,000,000 rows x 20 numeric + 5 categorical columns, in several shapes (normal,
lognormal, exponential, uniform, integer counts, heavy tails, bimodal, with nulls).
Drift is injected into exactly four columns of ``current.parquet``:

- ``f03`` mean shift of 0.5 standard deviation,
- ``f09`` scale change: values times 1.5,
- ``f15`` mix change: the bimodal column's weights go from 50/50 to 70/30,
- ``c2``  category mix change.

``current.parquet`` also carries an unseen category (0.2 % of ``c3``) and more nulls in
``f16``, which must be reported but not flagged. ``control.parquet`` is a fresh sample
of the reference distribution: nothing may be flagged there.

Usage: ``python bench/drift/data.py OUT_DIR [--rows N]``
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

INJECTED = ["f03", "f09", "f15", "c2"]

C0 = (["card", "cash", "transfer"], [0.6, 0.3, 0.1])
C1 = ([f"region_{i:02d}" for i in range(12)], None)
C2 = (["basic", "plus", "pro", "team", "enterprise"], [0.4, 0.3, 0.15, 0.1, 0.05])
C2_DRIFTED = [0.2, 0.25, 0.25, 0.15, 0.15]
C3 = ([f"product_{i:02d}" for i in range(40)], None)


def _zipf(k: int) -> np.ndarray:
    weights = 1.0 / np.arange(1, k + 1)
    return weights / weights.sum()


def _with_nulls(rng: np.random.Generator, values: np.ndarray, share: float) -> np.ndarray:
    values = values.astype(np.float64)
    values[rng.random(values.size) < share] = np.nan
    return values


def make_table(rows: int, seed: int, drifted: bool) -> pa.Table:
    """One batch; ``drifted`` injects the drift and the reported-only changes."""
    rng = np.random.default_rng(seed)
    cols: dict[str, pa.Array | np.ndarray] = {}
    for i, (mu, sigma) in enumerate([(0, 1), (10, 2), (-5, 0.5), (100, 15), (0, 3)]):
        shift = 0.5 * sigma if drifted and i == 3 else 0.0
        cols[f"f{i:02d}"] = rng.normal(mu + shift, sigma, rows)
    for i, sigma in zip(range(5, 8), (0.5, 1.0, 0.25), strict=True):
        cols[f"f{i:02d}"] = rng.lognormal(0.0, sigma, rows)
    cols["f08"] = rng.exponential(2.0, rows)
    cols["f09"] = rng.exponential(1.0, rows) * (1.5 if drifted else 1.0)
    cols["f10"] = rng.uniform(0, 1, rows)
    cols["f11"] = rng.uniform(-50, 50, rows)
    cols["f12"] = rng.poisson(3.0, rows)  # integer column: many ties
    cols["f13"] = rng.poisson(40.0, rows)
    cols["f14"] = rng.standard_t(3, rows)  # heavy tails
    upper = rng.random(rows) < (0.3 if drifted else 0.5)
    cols["f15"] = np.where(upper, 2.0, -2.0) + rng.normal(0, 1, rows)
    for i in range(16, 20):
        null_share = 0.05 if drifted and i == 16 else 0.02
        cols[f"f{i:02d}"] = _with_nulls(rng, rng.normal(0, 1, rows), null_share)

    for name, (labels, probs) in (("c0", C0), ("c1", C1), ("c2", C2), ("c3", C3)):
        if name == "c2" and drifted:
            probs = C2_DRIFTED
        p = np.asarray(probs) if probs is not None else _zipf(len(labels))
        values = np.asarray(labels, dtype=object)[rng.choice(len(labels), rows, p=p)]
        mask = None
        if name == "c3":
            if drifted:
                values[rng.random(rows) < 0.002] = "product_new"
            mask = rng.random(rows) < 0.01
        cols[name] = pa.array(values, type=pa.string(), mask=mask)
    cols["c4"] = pa.array(rng.random(rows) < 0.3)
    return pa.table(cols)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    args.out_dir.mkdir(parents=True, exist_ok=True)
    for name, seed, drifted in (
        ("reference", 1, False),
        ("current", 2, True),
        ("control", 3, False),
    ):
        pq.write_table(make_table(args.rows, seed, drifted), args.out_dir / f"{name}.parquet")


if __name__ == "__main__":
    main()
