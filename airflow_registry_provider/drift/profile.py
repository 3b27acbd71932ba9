"""Reference profile: what a drift check needs from the reference, stored small.

Per numeric column: ``n_quantiles`` type-1 quantiles (a dense quantile sketch from which
KS and Wasserstein are computed within a stated bound, see :class:`QuantileCdf`), the
quantile bin edges with the reference counts in them (PSI, Jensen-Shannon, histograms:
exact), mean and std. Per categorical column: the category counts (exact). Plus row and
missing counts, the schema and the model the profile belongs to. ``to_json`` gives a few
hundred kilobytes for a wide table, independent of the number of rows.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from airflow_registry_provider.drift.inputs import (
    CATEGORICAL,
    NUMERIC,
    TableInput,
    TableLike,
    category_counts,
    default_kind,
    numeric_values,
    parallel_map,
    type_family,
)
from airflow_registry_provider.drift.stats import (
    FloatArray,
    QuantileCdf,
    bin_counts,
    sketch_grid,
    tail_levels,
    type1_quantiles,
)
from airflow_registry_provider.exceptions import InvalidInputError

PROFILE_FORMAT_VERSION = 1

#: Quantiles stored per numeric column. The profile's reference CDF is then within
#: 1/1000 of the true one, which bounds the KS error by 0.001.
DEFAULT_QUANTILES = 1001

#: Quantile bins for PSI and the histograms: deciles, the bins PSI's customary
#: 0.1 / 0.2 thresholds were calibrated on.
DEFAULT_BINS = 10

#: A categorical reference column with more categories than this is refused: category
#: frequencies of an identifier-like column neither stay small nor mean anything.
MAX_CATEGORIES = 1000


@dataclass(frozen=True)
class NumericProfile:
    """Summary of one numeric reference column (missing = null or NaN).

    ``quantiles`` are the type-1 quantiles at ``k / (n_quantiles - 1)`` (the first is
    the minimum, the last the maximum); ``lower_tail`` and ``upper_tail`` those at
    ``2**-j / (n_quantiles - 1)`` and ``1 - 2**-j / (n_quantiles - 1)``, j = 1, 2, ...,
    both stored in ascending order (see :func:`~.stats.tail_levels`).
    """

    count: int
    missing: int
    mean: float | None
    std: float | None
    quantiles: tuple[float, ...]
    lower_tail: tuple[float, ...]
    upper_tail: tuple[float, ...]
    bin_edges: tuple[float, ...]
    bin_counts: tuple[int, ...]
    kind: Literal["numeric"] = NUMERIC

    @classmethod
    def from_sorted(cls, values: FloatArray, missing: int, n_quantiles: int, n_bins: int) -> NumericProfile:
        """Profile of sorted finite ``values``."""
        if values.size == 0:
            return cls(0, missing, None, None, (), (), (), (), ())
        n_tail = tail_levels(values.size, n_quantiles)
        sketch = type1_quantiles(values, *sketch_grid(n_quantiles, n_tail)).tolist()
        inner = n_tail + n_quantiles - 1  # index of the maximum in the sketch
        edges = np.unique(type1_quantiles(values, np.arange(1, n_bins), n_bins))
        return cls(
            count=int(values.size),
            missing=missing,
            mean=float(values.mean()),
            std=float(values.std()),
            quantiles=(sketch[0], *sketch[n_tail + 1 : inner], sketch[-1]),
            lower_tail=tuple(sketch[1 : n_tail + 1]),
            upper_tail=tuple(sketch[inner : inner + n_tail]),
            bin_edges=tuple(edges.tolist()),
            bin_counts=tuple(bin_counts(values, edges).tolist()),
        )

    def cdf(self) -> QuantileCdf:
        """The reference CDF rebuilt from the stored quantiles."""
        numerators, denominators = sketch_grid(len(self.quantiles), len(self.lower_tail))
        values = (
            self.quantiles[0],
            *self.lower_tail,
            *self.quantiles[1:-1],
            *self.upper_tail,
            self.quantiles[-1],
        )
        return QuantileCdf.from_quantiles(values, numerators / denominators)


@dataclass(frozen=True)
class CategoricalProfile:
    """Category counts of one categorical reference column (missing = null or NaN)."""

    count: int
    missing: int
    frequencies: Mapping[str, int]
    kind: Literal["categorical"] = CATEGORICAL


ColumnProfile = NumericProfile | CategoricalProfile


@dataclass(frozen=True)
class ReferenceProfile:
    """Everything a drift check needs from the reference data, serialisable as JSON.

    ``types`` holds each column's type family (int, float, bool, string, null) to detect
    a changed type in a later batch; :attr:`schema` gives each column's kind.
    """

    columns: Mapping[str, ColumnProfile]
    types: Mapping[str, str]
    n_rows: int
    n_quantiles: int = DEFAULT_QUANTILES
    model_name: str | None = None
    model_version: str | None = None
    format_version: int = PROFILE_FORMAT_VERSION

    @property
    def schema(self) -> dict[str, str]:
        """Column name -> ``"numeric"`` or ``"categorical"``."""
        return {name: column.kind for name, column in self.columns.items()}

    def check_model(self, model_name: str, model_version: str | None = None) -> None:
        """Raise :class:`InvalidInputError` unless the profile belongs to this model
        (and to this version, when one is given)."""
        if self.model_name != model_name or (model_version is not None and self.model_version != model_version):
            expected = f"model {model_name!r}" + (f" version {model_version!r}" if model_version is not None else "")
            raise InvalidInputError(
                "reference",
                f"the reference profile belongs to model {self.model_name!r} version "
                f"{self.model_version!r}, expected {expected}",
            )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (see :meth:`from_dict`)."""
        columns: dict[str, Any] = {}
        for name, column in self.columns.items():
            if isinstance(column, NumericProfile):
                columns[name] = {
                    "kind": column.kind,
                    "count": column.count,
                    "missing": column.missing,
                    "mean": column.mean,
                    "std": column.std,
                    "quantiles": list(column.quantiles),
                    "lower_tail": list(column.lower_tail),
                    "upper_tail": list(column.upper_tail),
                    "bin_edges": list(column.bin_edges),
                    "bin_counts": list(column.bin_counts),
                }
            else:
                columns[name] = {
                    "kind": column.kind,
                    "count": column.count,
                    "missing": column.missing,
                    "frequencies": dict(column.frequencies),
                }
        return {
            "format_version": self.format_version,
            "model_name": self.model_name,
            "model_version": self.model_version,
            "n_rows": self.n_rows,
            "n_quantiles": self.n_quantiles,
            "types": dict(self.types),
            "columns": columns,
        }

    def to_json(self) -> str:
        """Compact JSON text of the profile."""
        return json.dumps(self.to_dict(), separators=(",", ":"), allow_nan=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ReferenceProfile:
        """Rebuild a profile from :meth:`to_dict` output (this format version only)."""
        version = data.get("format_version") if isinstance(data, Mapping) else None
        if version != PROFILE_FORMAT_VERSION:
            raise InvalidInputError(
                "reference",
                f"unsupported reference profile format version {version!r} "
                f"(this code reads version {PROFILE_FORMAT_VERSION})",
            )
        try:
            columns: dict[str, ColumnProfile] = {}
            for name, col in data["columns"].items():
                if col["kind"] == NUMERIC:
                    columns[name] = NumericProfile(
                        count=int(col["count"]),
                        missing=int(col["missing"]),
                        mean=col["mean"],
                        std=col["std"],
                        quantiles=tuple(float(v) for v in col["quantiles"]),
                        lower_tail=tuple(float(v) for v in col["lower_tail"]),
                        upper_tail=tuple(float(v) for v in col["upper_tail"]),
                        bin_edges=tuple(float(v) for v in col["bin_edges"]),
                        bin_counts=tuple(int(v) for v in col["bin_counts"]),
                    )
                elif col["kind"] == CATEGORICAL:
                    columns[name] = CategoricalProfile(
                        count=int(col["count"]),
                        missing=int(col["missing"]),
                        frequencies={str(k): int(v) for k, v in col["frequencies"].items()},
                    )
                else:
                    raise ValueError(f"column {name!r} has unknown kind {col['kind']!r}")
            return cls(
                columns=columns,
                types={str(k): str(v) for k, v in data["types"].items()},
                n_rows=int(data["n_rows"]),
                n_quantiles=int(data["n_quantiles"]),
                model_name=data["model_name"],
                model_version=data["model_version"],
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise InvalidInputError("reference", f"malformed reference profile: {exc}") from exc

    @classmethod
    def from_json(cls, text: str | bytes) -> ReferenceProfile:
        """Rebuild a profile from :meth:`to_json` output."""
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise InvalidInputError("reference", f"reference profile is not JSON: {exc}") from exc
        return cls.from_dict(data)


@dataclass(frozen=True)
class ProfiledColumn:
    """A column's profile, with its sorted values kept for an exact check (numeric)."""

    profile: ColumnProfile
    sorted_values: FloatArray | None
    infinite: int


def resolve_kinds(
    table: TableInput, columns: Sequence[str] | None, categorical: Sequence[str]
) -> tuple[dict[str, str], dict[str, str]]:
    """``(kinds, type families)`` of the selected columns of a reference table.

    Raises :class:`InvalidInputError` listing unknown or unsupported columns.
    """
    names = list(columns) if columns is not None else table.names
    unknown = [c for c in [*names, *categorical] if c not in table.schema.names]
    if unknown:
        raise InvalidInputError("columns", f"columns not in the {table.field} data: {', '.join(unknown)}")
    families = {name: type_family(table.schema.field(name).type) for name in names}
    unsupported = [f"{n} ({table.schema.field(n).type})" for n, f in families.items() if f is None]
    if unsupported:
        raise InvalidInputError(
            table.field,
            "unsupported column types (use numbers, strings or booleans, or leave the "
            f"columns out with columns=): {', '.join(unsupported)}",
        )
    typed = {name: family for name, family in families.items() if family is not None}
    chosen = set(categorical)
    kinds = {n: CATEGORICAL if n in chosen else default_kind(f) for n, f in typed.items()}
    return kinds, typed


def profile_column(table: TableInput, name: str, kind: str, n_quantiles: int, n_bins: int) -> ProfiledColumn:
    """Read one reference column and profile it."""
    column = table.column(name)
    if kind == NUMERIC:
        values, missing, infinite = numeric_values(column)
        profile = NumericProfile.from_sorted(values, missing, n_quantiles, n_bins)
        return ProfiledColumn(profile, values, infinite)
    counts, missing = category_counts(column)
    frequencies = dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))
    return ProfiledColumn(CategoricalProfile(sum(frequencies.values()), missing, frequencies), None, 0)


def profile_table(
    table: TableInput,
    kinds: Mapping[str, str],
    n_quantiles: int = DEFAULT_QUANTILES,
    n_bins: int = DEFAULT_BINS,
) -> dict[str, ProfiledColumn]:
    """Profile every column of ``kinds``; refuses infinities and too many categories."""
    if table.num_rows == 0:
        raise InvalidInputError(table.field, "the reference data has no rows")
    names = list(kinds)
    profiled = parallel_map(
        lambda name: profile_column(table, name, kinds[name], n_quantiles, n_bins),
        names,
    )
    result = dict(zip(names, profiled, strict=True))
    infinite = [name for name, col in result.items() if col.infinite]
    if infinite:
        raise InvalidInputError(
            table.field,
            "infinite values in numeric columns (NaN counts as missing, inf does not): " + ", ".join(infinite),
        )
    wide = [
        name
        for name, col in result.items()
        if isinstance(col.profile, CategoricalProfile) and len(col.profile.frequencies) > MAX_CATEGORIES
    ]
    if wide:
        raise InvalidInputError(
            table.field,
            f"categorical columns with more than {MAX_CATEGORIES} categories "
            "(leave them out "
            f"with columns=): {', '.join(wide)}",
        )
    return result


def build_profile(
    reference: TableLike,
    columns: Sequence[str] | None = None,
    categorical: Sequence[str] = (),
    model_name: str | None = None,
    model_version: str | None = None,
    n_quantiles: int = DEFAULT_QUANTILES,
    n_bins: int = DEFAULT_BINS,
) -> ReferenceProfile:
    """Profile the reference data once, for later checks with :func:`check_drift`.

    ``columns`` selects columns (default: all). Integer and float columns are numeric,
    string and boolean ones categorical; ``categorical`` names numeric columns to treat
    as categories instead (e.g. integer codes). ``n_quantiles`` sets the density of the
    stored quantile sketch (KS error bound ``1 / (n_quantiles - 1)``), ``n_bins`` the
    number of quantile bins for PSI and histograms.
    """
    if n_quantiles < 3:
        raise InvalidInputError("n_quantiles", f"need at least 3, got {n_quantiles}")
    if n_bins < 2:
        raise InvalidInputError("n_bins", f"need at least 2, got {n_bins}")
    table = TableInput(reference, "reference")
    kinds, families = resolve_kinds(table, columns, categorical)
    profiled = profile_table(table, kinds, n_quantiles, n_bins)
    return ReferenceProfile(
        columns={name: col.profile for name, col in profiled.items()},
        types=families,
        n_rows=table.num_rows,
        n_quantiles=n_quantiles,
        model_name=model_name,
        model_version=model_version,
    )
