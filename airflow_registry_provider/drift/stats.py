"""Drift statistics on numpy arrays.

Every function here is pure and works on already-sorted, finite float64 arrays or on
count vectors, so the engine sorts each column once and derives all statistics from
that. scipy is used wherever it has the statistic for our inputs (Jensen-Shannon,
chi-square, the Kolmogorov distribution, Benjamini-Hochberg); the rest is written here
and each such function says why.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import stats as sps
from scipy.spatial import distance

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: Share given to an empty bin or category in PSI, whose log ratio is otherwise
#: infinite.
PSI_EPSILON = 1e-4

#: Elements per block in the passes over a whole column. A block's temporaries (64 KiB)
#: stay under glibc's 128 KiB mmap threshold, so numpy reuses heap memory instead of
#: mapping and faulting in fresh pages for every temporary: 3-5x faster on 1M rows.
BLOCK = 8192


def sort_finite(values: npt.ArrayLike) -> tuple[FloatArray, int, int]:
    """Sort ``values`` as float64 and split off the missing ones.

    Returns ``(sorted finite values, number of NaN, number of +-inf)``. numpy sorts NaN
    to the end, so one ``searchsorted`` finds them and infinities sit at either end:
    counting them costs nothing beyond the sort the statistics need anyway.
    """
    arr = np.array(values, dtype=np.float64)  # a private copy: sorted in place below
    arr.sort()
    n_valid = int(np.searchsorted(arr, np.nan, side="left"))
    n_nan = arr.size - n_valid
    lo = int(np.searchsorted(arr[:n_valid], -np.inf, side="right"))
    hi = int(np.searchsorted(arr[:n_valid], np.inf, side="left"))
    return arr[lo:hi], n_nan, lo + (n_valid - hi)


def type1_quantiles(sorted_values: FloatArray, numerators: IntArray, denominator: IntArray | int) -> FloatArray:
    """Order statistics at probabilities ``numerators / denominator``.

    This is the inverted-CDF (Hyndman-Fan type 1) quantile, ``np.quantile(...,
    method="inverted_cdf")``. It is computed by index here because the input is already
    sorted (np.quantile would partition it again) and because the index is exact in
    integer arithmetic, which the profile's CDF error bound relies on: every stored
    value is a data point ``Q(p)`` with ``F(Q(p)) >= p`` and ``P(X < Q(p)) <= p``.
    """
    n = sorted_values.size
    idx = (numerators * n + denominator - 1) // denominator - 1  # ceil(p * n) - 1
    return sorted_values[np.clip(idx, 0, n - 1)]


def tail_levels(n: int, n_quantiles: int) -> int:
    """How many tail levels a sketch of ``n`` values gets on each side.

    The sketch's uniform grid ``k / (K - 1)`` leaves the outer cells, where heavy
    tails stretch far, with a Wasserstein error of up to ``width / (K - 1)``; each
    tail therefore also gets the levels ``2**-j / (K - 1)``, j = 1, 2, ... while a
    level still holds a data point (``n * p >= 1``).
    """
    levels = 0
    while (n_quantiles - 1) << (levels + 1) <= n:
        levels += 1
    return levels


def sketch_grid(n_quantiles: int, n_tail: int) -> tuple[IntArray, IntArray]:
    """``(numerators, denominators)`` of the sketch's probabilities, ascending.

    ``0``, the lower tail levels, ``k / (K - 1)`` for ``0 < k < K - 1``, the upper
    tail levels, ``1``: the order the profile stores its values in.
    """
    d = n_quantiles - 1
    tails = d << np.arange(n_tail, 0, -1, dtype=np.int64)  # d * 2**j, j = n_tail..1
    numerators = np.concatenate(([0], np.ones(n_tail, np.int64), np.arange(1, d), tails[::-1] - 1, [1]))
    denominators = np.concatenate(([1], tails, np.full(d - 1, d), tails[::-1], [1]))
    return numerators.astype(np.int64), denominators.astype(np.int64)


def bin_counts(sorted_values: FloatArray, inner_edges: FloatArray) -> IntArray:
    """Counts of ``sorted_values`` in ``(-inf, e0), [e0, e1), ..., [e_last, inf)``."""
    cuts = np.searchsorted(sorted_values, inner_edges, side="left")
    return np.diff(np.concatenate(([0], cuts, [sorted_values.size]))).astype(np.int64)


def psi(ref_counts: npt.ArrayLike, cur_counts: npt.ArrayLike) -> float:
    """Population stability index of two count vectors over the same bins.

    Written here because neither scipy nor numpy has it: ``sum((c - r) * ln(c / r))`` on
    shares, with empty shares raised to :data:`PSI_EPSILON`.
    """
    r = np.asarray(ref_counts, dtype=np.float64)
    c = np.asarray(cur_counts, dtype=np.float64)
    r = np.maximum(r / r.sum(), PSI_EPSILON)
    c = np.maximum(c / c.sum(), PSI_EPSILON)
    return float(np.sum((c - r) * np.log(c / r)))


def js_distance(ref_counts: npt.ArrayLike, cur_counts: npt.ArrayLike) -> float:
    """Jensen-Shannon distance in base 2, so it lies in [0, 1]."""
    return float(distance.jensenshannon(ref_counts, cur_counts, base=2))


def chi_square(ref_counts: npt.ArrayLike, cur_counts: npt.ArrayLike) -> tuple[float, float]:
    """Chi-square test of homogeneity on the 2 x k table: ``(statistic, p-value)``.

    Categories empty in both samples are dropped; with fewer than two categories left
    the samples cannot differ and the result is ``(0.0, 1.0)``.
    """
    table = np.vstack([np.asarray(ref_counts), np.asarray(cur_counts)]).astype(np.float64)
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2:
        return 0.0, 1.0
    result = sps.chi2_contingency(table)
    return float(result.statistic), float(result.pvalue)


def ks_pvalue(statistic: float, n_ref: int, n_cur: int) -> float:
    """Two-sided p-value of a two-sample KS statistic, as ``scipy.stats.ks_2samp``
    computes it for large samples (``method="asymp"``): the Kolmogorov distribution at
    the effective size ``n*m/(n+m)``. Used for every size so a check against a stored
    profile (which has no raw reference) and one against raw data give the same p-value.
    """
    en = max(np.round(n_ref * n_cur / (n_ref + n_cur)), 1.0)  # 1 vs 1 sample rounds to 0
    return float(np.clip(sps.kstwo.sf(statistic, en), 0.0, 1.0))


def adjust_pvalues(pvalues: npt.ArrayLike, method: str) -> FloatArray:
    """Correct p-values for multiple comparisons: ``"bh"`` (Benjamini-Hochberg, via
    ``scipy.stats.false_discovery_control``), ``"bonferroni"`` or ``"none"``."""
    p = np.asarray(pvalues, dtype=np.float64)
    if p.size == 0 or method == "none":
        return p
    if method == "bonferroni":
        return np.minimum(p * p.size, 1.0)
    if method == "bh":
        return np.asarray(sps.false_discovery_control(p, method="bh"), dtype=np.float64)
    raise ValueError(f"unknown p-value correction {method!r}")


@dataclass(frozen=True)
class EcdfDistances:
    """Distances between two empirical CDFs: KS statistic and Wasserstein-1 distance."""

    ks: float
    wasserstein: float


def ecdf_distances(ref: FloatArray, cur: FloatArray) -> EcdfDistances:
    """Exact KS statistic and Wasserstein-1 distance of two non-empty sorted samples.

    scipy's ``ks_2samp`` and ``wasserstein_distance`` each sort both samples again (and
    the Wasserstein one sorts their concatenation and binary-searches into it); here
    both come from one merge of the sorted arrays. numpy has no merge, but a stable
    argsort of two sorted runs is one (timsort finds the runs). Both CDFs are step
    functions that change only at sample points, so ``|F_ref - F_cur|`` is constant
    between consecutive merged points: KS is its maximum over points where the value
    changes (right-continuous CDFs: the last of tied points), Wasserstein its integral.
    """
    n, m = ref.size, cur.size
    both = np.concatenate((ref, cur))
    order = np.argsort(both, kind="stable")
    ks = wasserstein = 0.0
    for lo in range(0, order.size - 1, BLOCK):
        hi = min(lo + BLOCK, order.size - 1)
        index = order[lo:hi]
        position = np.arange(lo, hi)
        # Samples up to a merged point: a reference point at index i has i + 1
        # references up to it; a current point at index j has j + 1 current points, the
        # rest references.
        ref_le = np.where(index < n, index + 1, position + n - index)
        gap = np.abs(ref_le * (1.0 / n + 1.0 / m) - (position + 1) / m)
        values = both[order[lo : hi + 1]]
        width = values[1:] - values[:-1]
        ks = max(ks, float(np.max(gap, where=width > 0, initial=0.0)))
        wasserstein += float(gap @ width)
    return EcdfDistances(ks=ks, wasserstein=wasserstein)


@dataclass(frozen=True)
class QuantileCdf:
    """A reference CDF rebuilt from type-1 quantiles at known probabilities.

    Between distinct stored values the CDF is linear; a value stored several times is an
    atom of the data (e.g. an integer column) and the CDF jumps there from the lowest to
    the highest of its probabilities. Where consecutive stored points are ``(q_a, p_a)``
    and ``(q_b, p_b)``, both this CDF and the true one lie in ``[p_a, p_b]`` on
    ``[q_a, q_b)`` (see :func:`type1_quantiles`). Hence the two differ by at most
    ``max_error`` (the largest probability step) everywhere, so KS statistics by at most
    that much, and Wasserstein distances by at most ``wasserstein_error``, the sum of
    ``(q_b - q_a) * (p_b - p_a)``.

    ``knots`` are the distinct stored values; on the segment ``[knots[j-1], knots[j])``
    the CDF is ``start[j] + rise[j] * (x - origin[j]) / width[j]`` (a fraction of the
    width, not a slope, which overflows on subnormal gaps); segment 0 is left of the
    minimum (CDF 0) and segment ``len(knots)`` right of the maximum (CDF 1), both of
    infinite width.
    """

    knots: FloatArray
    origin: FloatArray
    start: FloatArray
    rise: FloatArray
    width: FloatArray
    max_error: float
    wasserstein_error: float

    @classmethod
    def from_quantiles(cls, values: npt.ArrayLike, levels: npt.ArrayLike) -> QuantileCdf:
        """Build the CDF from quantile ``values`` at ascending probabilities ``levels``,
        the first 0 (the minimum) and the last 1 (the maximum)."""
        q = np.asarray(values, dtype=np.float64)
        p = np.asarray(levels, dtype=np.float64)
        knots, first = np.unique(q, return_index=True)
        last = np.append(first[1:], q.size) - 1
        low, high = p[first], p[last]  # CDF just left of and at each knot
        origin = np.concatenate(([knots[0]], knots))
        start = np.concatenate(([0.0], high))
        rise = np.zeros(knots.size + 1)
        rise[1:-1] = low[1:] - high[:-1]
        width = np.full(knots.size + 1, np.inf)
        width[1:-1] = np.diff(knots)
        return cls(
            knots,
            origin,
            start,
            rise,
            width,
            max_error=float(np.diff(p).max()),
            wasserstein_error=float(np.diff(q) @ np.diff(p)),
        )

    def distances(self, cur: FloatArray) -> EcdfDistances:
        """KS statistic and Wasserstein-1 distance between this CDF and the empirical
        CDF of the sorted non-empty sample ``cur``.

        Written here because scipy only compares two samples, and expanding the profile
        into a sample would lose the bound. The knots are merged into the current
        points; between consecutive merged points the current CDF is a constant ``c``
        and this CDF a line from ``a`` to ``b``, so the supremum of the gap is
        ``max(|a-c|, |b-c|)`` and its integral has a closed form.
        """
        m, k = cur.size, self.knots.size
        at = np.searchsorted(cur, self.knots, side="left")
        x = np.insert(cur, at, self.knots)
        # Knots go before equal current points, so wherever a piece of positive length
        # opens, both counts below are the right-continuous ones.
        knots_le = np.repeat(np.arange(k + 1), np.diff(at, prepend=0, append=m) + 1)[1:]
        ks = wasserstein = 0.0
        for lo in range(0, x.size - 1, BLOCK):
            hi = min(lo + BLOCK, x.size - 1)
            seg = knots_le[lo:hi]
            f_cur = (np.arange(lo + 1, hi + 1) - seg) / m
            start, rise, origin = self.start[seg], self.rise[seg], self.origin[seg]
            span = self.width[seg]
            x0, x1 = x[lo:hi], x[lo + 1 : hi + 1]
            a = start + rise * ((x0 - origin) / span) - f_cur
            b = start + rise * ((x1 - origin) / span) - f_cur
            width = x1 - x0
            gap = np.maximum(np.abs(a), np.abs(b))
            ks = max(ks, float(np.max(gap, where=width > 0, initial=0.0)))
            area = np.abs(a + b) / 2  # the gap keeps its sign over the piece
            crossing = a * b < 0  # or it changes sign: two triangles
            if crossing.any():
                ac, bc = a[crossing], b[crossing]
                area[crossing] = (ac * ac + bc * bc) / (2 * np.abs(bc - ac))
            wasserstein += float(area @ width)
        return EcdfDistances(ks=ks, wasserstein=wasserstein)
