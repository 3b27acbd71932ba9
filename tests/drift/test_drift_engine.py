"""check_drift end to end: decisions, profile against raw data, edge cases, errors."""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from scipy import stats as sps

from airflow_registry_provider.drift import build_profile, check_drift
from airflow_registry_provider.exceptions import InvalidInputError

BENCH_DATA = Path(__file__).resolve().parents[2] / "bench" / "drift" / "data.py"
ROWS = 50_000
#: Columns compared with scipy on the raw data (normal, shifted, integer, heavy-tailed,
#: with nulls); scipy on all 20 would take seconds.
SCIPY_CHECKED = ("f00", "f03", "f12", "f14", "f16")


def _bench_data() -> ModuleType:
    spec = importlib.util.spec_from_file_location("drift_bench_data", BENCH_DATA)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The bench's data shape at 50k rows, written as Parquet."""
    data = _bench_data()
    out = tmp_path_factory.mktemp("drift")
    paths = {}
    for name, seed, drifted in (
        ("reference", 1, False),
        ("current", 2, True),
        ("control", 3, False),
    ):
        paths[name] = out / f"{name}.parquet"
        pq.write_table(data.make_table(ROWS, seed, drifted), paths[name])
    paths["injected"] = data.INJECTED
    return paths


@pytest.fixture(scope="module")
def profile(bench):
    return build_profile(bench["reference"], model_name="churn", model_version="7")


def test_defaults_flag_exactly_the_injected_columns(bench, profile):
    report = check_drift(bench["current"], profile)
    assert sorted(report.drifted_columns) == sorted(bench["injected"])
    assert report.drift_share == pytest.approx(4 / 25)
    assert report.dataset_drift is False  # 0.16 < drift_share 0.5
    assert check_drift(bench["control"], profile).drifted_columns == []


def test_profile_and_raw_reference_agree_within_the_stated_bounds(bench, profile):
    via_profile = check_drift(bench["current"], profile)
    via_raw = check_drift(bench["current"], bench["reference"])
    assert via_raw.drifted_columns == via_profile.drifted_columns
    ref, cur = pq.read_table(bench["reference"]), pq.read_table(bench["current"])
    for name, col in via_profile.columns.items():
        raw = via_raw.columns[name]
        assert col.drifted == raw.drifted
        if col.kind == "categorical":
            assert col.stats == raw.stats  # category counts are stored exactly
            continue
        assert col.stats["psi"] == raw.stats["psi"]  # bin counts are stored exactly
        assert raw.stats["ks_error_bound"] == 0.0
        # The bounds are attained at atoms (f12, f13: integers): allow rounding only.
        ks_gap = abs(col.stats["ks"] - raw.stats["ks"])
        assert ks_gap <= col.stats["ks_error_bound"] + 1e-12
        assert col.stats["ks_error_bound"] == pytest.approx(1e-3)
        w_gap = abs(col.stats["wasserstein"] - raw.stats["wasserstein"])
        assert w_gap <= col.stats["wasserstein_error_bound"] + 1e-12
        assert col.stats["wasserstein_error_bound"] < 0.05
        if name not in SCIPY_CHECKED:
            continue
        # and the raw path gives scipy's values
        r = ref.column(name).to_numpy(zero_copy_only=False)
        c = cur.column(name).to_numpy(zero_copy_only=False)
        r, c = r[~np.isnan(r)], c[~np.isnan(c)]
        assert raw.stats["ks"] == pytest.approx(sps.ks_2samp(r, c).statistic, abs=1e-12)
        w = sps.wasserstein_distance(r, c) / r.std()
        assert raw.stats["wasserstein"] == pytest.approx(w, rel=1e-9)


def test_report_dict_is_json_without_nan_and_keeps_the_histograms(bench, profile):
    report = check_drift(bench["current"], profile, prediction_column="f00")
    data = json.loads(json.dumps(report.to_dict(), allow_nan=False))
    assert set(data) >= {"dataset_drift", "drifted_columns", "drift_share", "columns"}
    assert data["prediction_drift"] is False and "f00" not in data["columns"]
    f03 = data["columns"]["f03"]
    assert f03["method"] == "wasserstein" and f03["threshold"] == 0.1 and f03["drifted"]
    assert f03["statistic"] == pytest.approx(0.5, abs=0.03)
    assert len(f03["histogram"]["edges"]) == 9 and len(f03["histogram"]["current"]) == 10
    assert sum(f03["histogram"]["current"]) == ROWS
    assert data["columns"]["f16"]["null_share_current"] == pytest.approx(0.05, abs=0.005)
    c3 = data["columns"]["c3"]
    assert c3["unseen_categories"] == ["product_new"] and not c3["drifted"]
    assert c3["unseen_share"] == pytest.approx(0.002, abs=0.001)
    assert c3["null_share_reference"] == pytest.approx(0.01, abs=0.002)
    assert data["reference"]["model_name"] == "churn"


def test_inputs_as_path_table_and_dataframe_give_the_same_report(bench, profile):
    table = pq.read_table(bench["current"])
    reports = [
        check_drift(source, profile).to_dict()
        for source in (
            bench["current"],
            str(bench["current"]),
            table,
            table.to_pandas(),
        )
    ]
    assert all(r == reports[0] for r in reports[1:])


def _pair(n: int = 4000, seed: int = 0) -> tuple[pa.Table, pa.Table]:
    rng = np.random.default_rng(seed)

    def table(shift: float) -> pa.Table:
        return pa.table(
            {
                "a": rng.normal(shift, 1, n),
                "b": rng.normal(0, 1, n),
                "c": rng.normal(0, 1, n),
                "cat": pa.array(rng.choice(["x", "y", "z"], n)),
                "pred": rng.random(n) + shift,
            }
        )

    return table(0.0), table(1.0)


def test_drift_share_critical_columns_and_prediction():
    ref, cur = _pair()
    report = check_drift(cur, ref, prediction_column="pred")
    assert report.drifted_columns == ["a"]
    assert report.prediction_drift is True
    assert report.drift_share == pytest.approx(1 / 4)
    assert not report.dataset_drift
    assert check_drift(cur, ref, drift_share=0.25).dataset_drift
    assert check_drift(cur, ref, critical_columns=["a"]).dataset_drift
    assert not check_drift(cur, ref, critical_columns=["b"]).dataset_drift


def test_methods_and_thresholds_per_column():
    ref, cur = _pair()
    report = check_drift(
        cur,
        ref,
        methods={"a": "psi", "b": "ks", "cat": "chi2"},
        thresholds={"b": 0.001, "a": 5.0},
    )
    a, b, cat = report.columns["a"], report.columns["b"], report.columns["cat"]
    assert (a.method, a.threshold, a.drifted) == ("psi", 5.0, False)
    assert a.statistic == a.stats["psi"] > 0.2
    assert (b.method, b.drifted) == (
        "ks",
        True,
    )  # any noise passes a 0.001 KS threshold
    assert cat.method == "chi2" and cat.threshold == 0.05
    assert cat.statistic == cat.stats["p_value_adjusted"]


def test_pvalue_methods_are_corrected_for_multiple_comparisons():
    rng = np.random.default_rng(0)  # a seed where 2 of 40 noise columns have p < 0.05
    n, k = 2000, 40
    ref = pa.table({f"x{i}": rng.normal(size=n) for i in range(k)})
    cur = pa.table({f"x{i}": rng.normal(size=n) for i in range(k)})
    methods = {f"x{i}": "ks_pvalue" for i in range(k)}
    plain = check_drift(cur, ref, methods=methods, p_value_correction="none")
    raw_p = [c.stats["ks_p_value"] for c in plain.columns.values()]
    assert len(plain.drifted_columns) == 2  # uncorrected, noise looks like drift
    bh = check_drift(cur, ref, methods=methods)
    bonferroni = check_drift(cur, ref, methods=methods, p_value_correction="bonferroni")
    assert bh.drifted_columns == [] and bonferroni.drifted_columns == []
    adjusted = [c.stats["p_value_adjusted"] for c in bh.columns.values()]
    assert np.allclose(adjusted, sps.false_discovery_control(raw_p))


def test_missing_values_constant_all_null_and_single_category_columns():
    n = 5000
    rng = np.random.default_rng(2)
    ref = pa.table(
        {
            "nan": np.where(rng.random(n) < 0.1, np.nan, rng.normal(size=n)),
            "const": np.full(n, 3.0),
            "empty": pa.nulls(n, pa.float64()),
            "one": pa.array(["only"] * n),
            "ok": rng.normal(size=n),
        }
    )
    cur = pa.table(
        {
            "nan": pa.array(np.where(rng.random(n) < 0.3, None, rng.normal(size=n))),
            "const": np.full(n, 3.0),
            "empty": pa.nulls(n, pa.float64()),
            "one": pa.array(["only"] * (n - 10) + ["new"] * 10),
            "ok": rng.normal(size=n),
        }
    )
    report = check_drift(cur, ref)
    cols = report.columns
    assert cols["nan"].status == "ok"
    assert cols["nan"].stats["null_share_reference"] == pytest.approx(0.1, abs=0.03)
    assert cols["nan"].stats["null_share_current"] == pytest.approx(0.3, abs=0.05)
    assert cols["const"].status == "constant" and cols["const"].statistic is None
    assert cols["const"].stats["ks"] == 0.0  # still computed where defined
    assert cols["empty"].status == "all_null" and cols["empty"].statistic is None
    assert cols["one"].status == "single_category"
    assert cols["one"].stats["unseen_categories"] == ["new"]
    assert cols["one"].stats["unseen_share"] == pytest.approx(0.002)
    assert cols["one"].evaluated
    assert report.drift_share == 0.0 and not report.dataset_drift
    json.dumps(report.to_dict(), allow_nan=False)


def test_schema_mismatch_lists_every_offending_column():
    ref, cur = _pair(200)
    changed = cur.drop_columns(["b", "c"]).append_column("extra", pa.array([1.0] * 200))
    changed = changed.set_column(changed.schema.get_field_index("cat"), "cat", pa.array([1] * 200))
    with pytest.raises(InvalidInputError) as err:
        check_drift(changed, ref)
    assert err.value.field == "current"
    message = str(err.value)
    assert "missing columns: b, c" in message
    assert "unexpected columns: extra" in message
    assert "changed types: cat (string -> int64)" in message
    # integers for floats are still numbers; a selection ignores other columns
    as_int = cur.set_column(0, "a", pa.array(np.arange(200)))
    check_drift(as_int, ref)
    check_drift(cur.drop_columns(["b"]), ref, columns=["a", "cat"])


def test_bad_batches_and_arguments_are_clear_errors():
    ref, cur = _pair(200)
    profile = build_profile(ref, model_name="churn")
    with pytest.raises(InvalidInputError, match="no rows"):
        check_drift(cur.slice(0, 0), profile)
    with pytest.raises(InvalidInputError, match="cannot read Parquet file") as err:
        check_drift("/nonexistent/batch.parquet", profile)
    assert err.value.field == "current"
    inf = cur.set_column(1, "b", pa.array([np.inf] + [0.0] * 199))
    inf = inf.set_column(2, "c", pa.array([-np.inf] + [0.0] * 199))
    with pytest.raises(InvalidInputError, match=r"infinite values .*: b, c$"):
        check_drift(inf, profile)
    with pytest.raises(InvalidInputError, match="expected model 'fraud'"):
        check_drift(cur, profile, expected_model="fraud")
    check_drift(cur, profile, expected_model="churn")
    with pytest.raises(InvalidInputError, match="names no model") as err:
        check_drift(cur, ref, expected_model="churn")
    assert err.value.field == "expected_model"
    cases = [
        ({"methods": {"a": "chi2", "cat": "ks", "zz": "js"}}, "methods", "zz"),
        (
            {"methods": {"a": "chi2", "cat": "wasserstein"}},
            "methods",
            r"a \('chi2'.*cat",
        ),
        (
            {"thresholds": {"a": -1, "b": math.nan}},
            "thresholds",
            r"a \(-1\).*b \(nan\)",
        ),
        ({"methods": {"a": "ks_pvalue"}, "thresholds": {"a": 2.0}}, "thresholds", "a"),
        ({"critical_columns": ["nope"]}, "critical_columns", "nope"),
        ({"prediction_column": "nope"}, "prediction_column", "nope"),
        ({"columns": ["a", "nope"]}, "columns", "nope"),
        ({"drift_share": 0}, "drift_share", "0"),
        ({"p_value_correction": "holm"}, "p_value_correction", "holm"),
        ({"categorical": ["a"]}, "categorical", "profile"),
    ]
    for kwargs, field, text in cases:
        with pytest.raises(InvalidInputError, match=text) as err:
            check_drift(cur, profile, **kwargs)
        assert err.value.field == field


def test_integer_codes_as_categories_on_raw_reference():
    rng = np.random.default_rng(4)
    ref = pd.DataFrame({"code": rng.integers(0, 3, 3000)})
    cur = pd.DataFrame({"code": rng.choice(3, 3000, p=[0.1, 0.1, 0.8])})
    report = check_drift(cur, ref, categorical=["code"])
    assert report.columns["code"].kind == "categorical"
    assert report.columns["code"].method == "js" and report.columns["code"].drifted
