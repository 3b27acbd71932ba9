"""HTML report: self-contained, escaped, drawn from the report dict alone."""

from __future__ import annotations

import json
import re

import numpy as np
import pyarrow as pa
import pytest

from airflow_registry_provider.drift import build_profile, check_drift, render_html

EVIL = '<script>alert("x")</script>'


@pytest.fixture(scope="module")
def report():
    rng = np.random.default_rng(1)
    n = 3000

    def table(shift: float, labels: list[str]) -> pa.Table:
        return pa.table(
            {
                "income": rng.normal(shift, 1, n),
                EVIL: rng.normal(0, 1, n),
                "plan": pa.array(rng.choice(labels, n)),
            }
        )

    ref = table(0.0, ["basic", "pro"])
    cur = table(1.0, ["basic", "pro", "<b>new & shiny</b>"])
    return check_drift(cur, build_profile(ref, model_name="m&m"))


def test_html_is_self_contained(report):
    html = render_html(report)
    assert html.startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>")
    lowered = html.lower()
    for external in (
        "<script",
        "<link",
        "http://",
        "https://",
        "url(",
        "@import",
        "<img",
    ):
        assert external not in lowered
    assert lowered.count("<svg") == 3  # one chart per column


def test_names_and_values_are_escaped(report):
    html = render_html(report)
    assert EVIL not in html and "&lt;script&gt;" in html
    assert "<b>new" not in html and "&lt;b&gt;new &amp; shiny&lt;/b&gt;" in html
    assert "m&amp;m" in html and "m&m" not in html


def test_summary_and_drifted_columns_are_shown(report):
    html = render_html(report)
    assert "Dataset drift detected" in html  # income and plan of 3 columns drifted
    assert report.drifted_columns == ["income", "plan"]
    assert len(re.findall(r'<tr class="drifted">', html)) == 2
    assert len(re.findall(r'class="card drifted"', html)) == 2
    statistic = report.columns["income"].statistic
    assert f"wasserstein = {statistic:.4g}" in html and "(threshold 0.1)" in html


def test_rendering_needs_only_the_report_dict(report):
    data = json.loads(json.dumps(report.to_dict()))
    assert render_html(data) == render_html(report)


def test_columns_without_values_render():
    ref = pa.table({"x": pa.nulls(10, pa.float64()), "c": pa.array([None] * 10, pa.string())})
    html = render_html(check_drift(ref, ref))
    assert html.count("no values to draw") == 2
