"""Drift check: compare a current batch with a reference profile or raw data."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from airflow_registry_provider.drift.inputs import (
    CATEGORICAL,
    NUMERIC,
    TableInput,
    TableLike,
    category_counts,
    families_compatible,
    numeric_values,
    parallel_map,
    type_family,
)
from airflow_registry_provider.drift.profile import (
    DEFAULT_BINS,
    DEFAULT_QUANTILES,
    CategoricalProfile,
    ColumnProfile,
    NumericProfile,
    ReferenceProfile,
    profile_column,
    resolve_kinds,
)
from airflow_registry_provider.drift.report import (
    ColumnResult,
    DriftReport,
    Histogram,
    Stat,
)
from airflow_registry_provider.drift.stats import (
    FloatArray,
    adjust_pvalues,
    bin_counts,
    chi_square,
    ecdf_distances,
    js_distance,
    ks_pvalue,
    psi,
)
from airflow_registry_provider.exceptions import InvalidInputError


@dataclass(frozen=True)
class Method:
    """A drift method: the statistic it reads and how it is thresholded."""

    statistic: str
    kinds: frozenset[str]
    default_threshold: float
    p_value: bool = False


_BOTH = frozenset({NUMERIC, CATEGORICAL})

#: Drift methods by name. Distances drift at or above the threshold, p-values (after the
#: multiple-comparison correction) below it. Default thresholds: Wasserstein distance
#: divided by the reference std >= 0.1 (a tenth of a standard deviation of mass moved:
#: unreachable by sampling noise at any size that matters, reached by a 0.1-std mean
#: shift); PSI >= 0.2 (the customary "significant shift" rule for decile bins);
#: Jensen-Shannon distance (base 2, in [0, 1]) >= 0.1; KS statistic >= 0.1; p-values
#: below 0.05.
METHODS: Mapping[str, Method] = {
    "wasserstein": Method("wasserstein", frozenset({NUMERIC}), 0.1),
    "psi": Method("psi", _BOTH, 0.2),
    "js": Method("js", _BOTH, 0.1),
    "ks": Method("ks", frozenset({NUMERIC}), 0.1),
    "ks_pvalue": Method("ks_p_value", frozenset({NUMERIC}), 0.05, p_value=True),
    "chi2": Method("chi2_p_value", frozenset({CATEGORICAL}), 0.05, p_value=True),
}

#: Distance-based defaults: p-value tests flag negligible shifts once samples are large.
DEFAULT_METHODS: Mapping[str, str] = {NUMERIC: "wasserstein", CATEGORICAL: "js"}

P_VALUE_CORRECTIONS = ("bh", "bonferroni", "none")

#: Categories drawn in a histogram; the rest are summed into one "other" bar.
HISTOGRAM_CATEGORIES = 20

#: Unseen categories listed by name in a column result (their share counts all of them).
LISTED_UNSEEN = 20


@dataclass(frozen=True)
class _Compared:
    """Statistics of one column, before the drift decision."""

    kind: str
    status: str
    stats: dict[str, Stat]
    histogram: Histogram
    infinite_reference: int = 0
    infinite_current: int = 0


def check_drift(
    current: TableLike,
    reference: ReferenceProfile | TableLike,
    *,
    columns: Sequence[str] | None = None,
    methods: Mapping[str, str] | None = None,
    thresholds: Mapping[str, float] | None = None,
    drift_share: float = 0.5,
    critical_columns: Sequence[str] = (),
    prediction_column: str | None = None,
    expected_model: str | None = None,
    p_value_correction: str = "bh",
    categorical: Sequence[str] = (),
) -> DriftReport:
    """Compare ``current`` with ``reference`` column by column and decide on drift.

    ``reference`` is a :class:`ReferenceProfile` (the usual case: only the current batch
    is read) or raw reference data, which gives exact KS and Wasserstein values at the
    cost of reading and sorting the reference too. Data is a Parquet path, a pyarrow
    Table or a pandas DataFrame.

    ``columns`` restricts the check to some columns (default: all profiled ones; then
    the current batch must have exactly the reference's columns). ``methods`` and
    ``thresholds`` override, per column, the method (see :data:`METHODS`; defaults
    :data:`DEFAULT_METHODS`) and its threshold. p-value methods are corrected for
    multiple comparisons across the feature columns by ``p_value_correction``:
    ``"bh"`` (Benjamini-Hochberg), ``"bonferroni"`` or ``"none"``.

    The dataset drifts when the share of drifted feature columns is at least
    ``drift_share`` or any of ``critical_columns`` drifts. ``prediction_column`` is
    checked the same way but reported apart, as ``prediction_drift``.
    ``expected_model`` makes a profile of another model an error. ``categorical`` names
    numeric columns to treat as categories, for raw reference data only (a profile
    carries its kinds).

    Raises :class:`InvalidInputError` naming the offending columns for a schema
    mismatch, an empty batch, infinite values (NaN counts as missing) or bad arguments.
    """
    if not 0.0 < drift_share <= 1.0:
        raise InvalidInputError("drift_share", f"must be in (0, 1], got {drift_share}")
    if p_value_correction not in P_VALUE_CORRECTIONS:
        raise InvalidInputError(
            "p_value_correction",
            f"must be one of {', '.join(P_VALUE_CORRECTIONS)}, got {p_value_correction!r}",
        )

    cur_table = TableInput(current, "current")
    compare: Callable[[str], _Compared]
    if isinstance(reference, ReferenceProfile):
        profile = reference
        kinds, families = _profile_columns(profile, columns, prediction_column)
        if categorical:
            raise InvalidInputError(
                "categorical",
                "column kinds come from the reference profile; build it with them",
            )
        if expected_model is not None:
            reference.check_model(expected_model)
        ref_info: dict[str, Stat] = {
            "source": "profile",
            "model_name": reference.model_name,
            "model_version": reference.model_version,
            "rows": reference.n_rows,
            "n_quantiles": reference.n_quantiles,
        }

        def compare(name: str) -> _Compared:
            return _compare_column(name, profile.columns[name], None, 0, cur_table)

    else:
        if expected_model is not None:
            raise InvalidInputError(
                "expected_model",
                "raw reference data names no model; pass a ReferenceProfile",
            )
        ref_table = TableInput(reference, "reference")
        selected = None if columns is None else _with(columns, prediction_column)
        kinds, families = resolve_kinds(ref_table, selected, categorical)
        if ref_table.num_rows == 0:
            raise InvalidInputError("reference", "the reference data has no rows")
        ref_info = {"source": "data", "rows": ref_table.num_rows}

        def compare(name: str) -> _Compared:
            ref = profile_column(ref_table, name, kinds[name], DEFAULT_QUANTILES, DEFAULT_BINS)
            return _compare_column(name, ref.profile, ref.sorted_values, ref.infinite, cur_table)

    _check_schema(cur_table, kinds, families, strict=columns is None)
    if cur_table.num_rows == 0:
        raise InvalidInputError("current", "the current batch has no rows")

    if prediction_column is not None:
        _require_known([prediction_column], kinds, "prediction_column")
    features = [name for name in kinds if name != prediction_column]
    _require_known(critical_columns, features, "critical_columns")
    chosen = _choose_methods(kinds, methods or {})
    limits = _choose_thresholds(chosen, thresholds or {})

    compared = dict(zip(kinds, parallel_map(compare, kinds), strict=True))
    _refuse_infinities(compared)
    results = _decide({name: compared[name] for name in features}, chosen, limits, p_value_correction)
    prediction = None
    if prediction_column is not None:
        prediction = _decide({prediction_column: compared[prediction_column]}, chosen, limits, "none")[
            prediction_column
        ]

    return DriftReport(
        columns=results,
        drift_share_threshold=drift_share,
        critical_columns=tuple(critical_columns),
        prediction_column=prediction_column,
        prediction=prediction,
        reference=ref_info,
        current_rows=cur_table.num_rows,
        p_value_correction=p_value_correction,
    )


def _profile_columns(
    profile: ReferenceProfile, columns: Sequence[str] | None, prediction: str | None
) -> tuple[dict[str, str], dict[str, str]]:
    """``(kinds, type families)`` of the profiled columns selected for the check."""
    kinds = dict(profile.schema)
    if columns is not None:
        _require_known(columns, kinds, "columns")
        kinds = {name: kinds[name] for name in _with(columns, prediction)}
    return kinds, {name: profile.types[name] for name in kinds}


def _refuse_infinities(compared: Mapping[str, _Compared]) -> None:
    for side in ("reference", "current"):
        infinite = [
            name
            for name, col in compared.items()
            if (col.infinite_reference if side == "reference" else col.infinite_current)
        ]
        if infinite:
            raise InvalidInputError(
                side,
                "infinite values in numeric columns (NaN counts as missing, inf does not): " + ", ".join(infinite),
            )


def _with(columns: Sequence[str], extra: str | None) -> list[str]:
    names = list(dict.fromkeys(columns))
    return names if extra is None or extra in names else [*names, extra]


def _require_known(names: Sequence[str], known: Sequence[str] | Mapping[str, str], field: str) -> None:
    unknown = [name for name in names if name not in known]
    if unknown:
        raise InvalidInputError(field, f"not among the checked columns: {', '.join(unknown)}")


def _check_schema(
    table: TableInput,
    kinds: Mapping[str, str],
    families: Mapping[str, str],
    strict: bool,
) -> None:
    """Raise one error listing missing, unexpected and re-typed columns of ``table``."""
    present = set(table.schema.names)
    missing = [name for name in kinds if name not in present]
    extra = [name for name in table.names if name not in kinds] if strict else []
    changed = []
    for name in kinds:
        if name in present:
            arrow_type = table.schema.field(name).type
            family = type_family(arrow_type)
            if family is None or not families_compatible(kinds[name], families[name], family):
                changed.append(f"{name} ({families[name]} -> {arrow_type})")
    problems = [
        f"{label}: {', '.join(names)}"
        for label, names in (
            ("missing columns", missing),
            ("unexpected columns", extra),
            ("changed types", changed),
        )
        if names
    ]
    if problems:
        raise InvalidInputError(table.field, "schema does not match the reference; " + "; ".join(problems))


def _choose_methods(kinds: Mapping[str, str], methods: Mapping[str, str]) -> dict[str, str]:
    _require_known(list(methods), kinds, "methods")
    bad = [
        f"{name} ({method!r} for a {kinds[name]} column)"
        for name, method in methods.items()
        if method not in METHODS or kinds[name] not in METHODS[method].kinds
    ]
    if bad:
        raise InvalidInputError(
            "methods",
            f"unknown or unsuitable methods: {', '.join(bad)}; numeric columns take "
            f"{_names(NUMERIC)}, categorical ones {_names(CATEGORICAL)}",
        )
    return {name: methods.get(name, DEFAULT_METHODS[kind]) for name, kind in kinds.items()}


def _names(kind: str) -> str:
    return "/".join(name for name, method in METHODS.items() if kind in method.kinds)


def _choose_thresholds(chosen: Mapping[str, str], thresholds: Mapping[str, float]) -> dict[str, float]:
    _require_known(list(thresholds), chosen, "thresholds")
    bad = []
    for name, value in thresholds.items():
        ok = isinstance(value, (int, float)) and math.isfinite(value) and value > 0
        if ok and METHODS[chosen[name]].p_value:
            ok = value < 1
        if not ok:
            bad.append(f"{name} ({value!r})")
    if bad:
        raise InvalidInputError(
            "thresholds",
            "need a positive number (below 1 for p-value methods): " + ", ".join(bad),
        )
    return {name: float(thresholds.get(name, METHODS[method].default_threshold)) for name, method in chosen.items()}


def _compare_column(
    name: str,
    ref: ColumnProfile,
    ref_sorted: FloatArray | None,
    ref_infinite: int,
    table: TableInput,
) -> _Compared:
    column = table.column(name)
    if isinstance(ref, NumericProfile):
        values, missing, infinite = numeric_values(column)
        return replace(
            _compare_numeric(ref, ref_sorted, values, missing),
            infinite_reference=ref_infinite,
            infinite_current=infinite,
        )
    frequencies, missing = category_counts(column)
    return _compare_categorical(ref, frequencies, missing)


def _null_shares(ref_count: int, ref_missing: int, cur_count: int, cur_missing: int) -> dict[str, Stat]:
    return {
        "null_share_reference": ref_missing / max(ref_count + ref_missing, 1),
        "null_share_current": cur_missing / max(cur_count + cur_missing, 1),
    }


def _compare_numeric(
    ref: NumericProfile,
    ref_sorted: FloatArray | None,
    cur: FloatArray,
    cur_missing: int,
) -> _Compared:
    edges = np.asarray(ref.bin_edges)
    histogram = Histogram(
        reference=ref.bin_counts,
        current=tuple(bin_counts(cur, edges).tolist()) if ref.count else (),
        edges=ref.bin_edges,
    )
    stats = _null_shares(ref.count, ref.missing, int(cur.size), cur_missing)
    if ref.count == 0 or cur.size == 0:
        return _Compared(NUMERIC, "all_null", stats, histogram)

    if ref_sorted is not None:
        distances = ecdf_distances(ref_sorted, cur)
        ks_bound = wasserstein_bound = 0.0
    else:
        cdf = ref.cdf()
        distances = cdf.distances(cur)
        ks_bound = cdf.max_error
        wasserstein_bound = cdf.wasserstein_error
    std = ref.std or 0.0
    constant = ref.quantiles[0] == ref.quantiles[-1] or cur[0] == cur[-1]
    stats.update(
        {
            "ks": distances.ks,
            "ks_p_value": ks_pvalue(distances.ks, ref.count, int(cur.size)),
            # Normalised by the reference std: undefined for a constant reference.
            "wasserstein": distances.wasserstein / std if std > 0 else None,
            "psi": psi(histogram.reference, histogram.current),
            "js": js_distance(histogram.reference, histogram.current),
            "ks_error_bound": ks_bound,
            "wasserstein_error_bound": wasserstein_bound / std if std > 0 else None,
            "mean_reference": ref.mean,
            "mean_current": float(cur.mean()),
            "std_reference": ref.std,
            "std_current": float(cur.std()),
        }
    )
    return _Compared(NUMERIC, "constant" if constant else "ok", stats, histogram)


def _compare_categorical(ref: CategoricalProfile, cur: Mapping[str, int], cur_missing: int) -> _Compared:
    ref_freq = ref.frequencies
    unseen = sorted((c for c in cur if c not in ref_freq), key=lambda c: (-cur[c], c))
    categories = [*ref_freq, *unseen]
    ref_counts = np.array([ref_freq.get(c, 0) for c in categories], dtype=np.int64)
    cur_counts = np.array([cur.get(c, 0) for c in categories], dtype=np.int64)
    cur_total = int(cur_counts.sum())
    stats = _null_shares(ref.count, ref.missing, cur_total, cur_missing)
    stats.update(
        {
            "n_categories_reference": len(ref_freq),
            "n_categories_current": len(cur),
            "unseen_categories": unseen[:LISTED_UNSEEN],
            "unseen_share": sum(cur[c] for c in unseen) / cur_total if cur_total else 0.0,
        }
    )
    histogram = _category_histogram(categories, ref_counts, cur_counts)
    if ref.count == 0 or cur_total == 0:
        return _Compared(CATEGORICAL, "all_null", stats, histogram)
    chi2, chi2_p = chi_square(ref_counts, cur_counts)
    stats.update(
        {
            "js": js_distance(ref_counts, cur_counts),
            "psi": psi(ref_counts, cur_counts),
            "chi2": chi2,
            "chi2_p_value": chi2_p,
        }
    )
    status = "single_category" if len(ref_freq) == 1 else "ok"
    return _Compared(CATEGORICAL, status, stats, histogram)


def _category_histogram(categories: Sequence[str], ref_counts: np.ndarray, cur_counts: np.ndarray) -> Histogram:
    """The categories with the largest share on either side; the rest as other."""
    share = np.maximum(
        ref_counts / max(int(ref_counts.sum()), 1),
        cur_counts / max(int(cur_counts.sum()), 1),
    )
    top = np.sort(np.argsort(-share, kind="stable")[:HISTOGRAM_CATEGORIES])
    rest = np.ones(len(categories), dtype=bool)
    rest[top] = False
    return Histogram(
        reference=tuple(ref_counts[top].tolist()),
        current=tuple(cur_counts[top].tolist()),
        labels=tuple(categories[i] for i in top),
        other=(int(ref_counts[rest].sum()), int(cur_counts[rest].sum())),
    )


def _decide(
    compared: Mapping[str, _Compared],
    chosen: Mapping[str, str],
    limits: Mapping[str, float],
    correction: str,
) -> dict[str, ColumnResult]:
    """Apply each column's method and threshold; correct p-values across the columns."""
    statistic: dict[str, float | None] = {}
    for name, col in compared.items():
        value = col.stats.get(METHODS[chosen[name]].statistic)
        statistic[name] = float(value) if isinstance(value, (int, float)) else None
    pvalues = {name: value for name, value in statistic.items() if METHODS[chosen[name]].p_value and value is not None}
    adjusted = adjust_pvalues(list(pvalues.values()), correction)
    extra: dict[str, dict[str, Stat]] = {name: {} for name in compared}
    for name, p_adjusted in zip(pvalues, adjusted.tolist(), strict=True):
        extra[name]["p_value_adjusted"] = p_adjusted
        statistic[name] = p_adjusted

    results = {}
    for name, col in compared.items():
        method, value, limit = chosen[name], statistic[name], limits[name]
        if value is None:
            drifted = False
        elif METHODS[method].p_value:
            drifted = value < limit
        else:
            drifted = value >= limit
        results[name] = ColumnResult(
            kind=col.kind,
            method=method,
            threshold=limit,
            statistic=value,
            drifted=drifted,
            status=col.status,
            stats={**col.stats, **extra[name]},
            histogram=col.histogram,
        )
    return results
