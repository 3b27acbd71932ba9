"""Self-contained HTML drift report: inline CSS and SVG, no scripts, fonts or links.

Rendered from the report dict alone (``DriftReport.to_dict()``), so a report stored as
JSON, e.g. in XCom, can be turned into HTML later. Every name and value from the data is
escaped.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from airflow_registry_provider.drift.report import DriftReport

REFERENCE_COLOR = "#4c78a8"
CURRENT_COLOR = "#f58518"
WIDTH = 720

_CSS = """
body{font-family:system-ui,-apple-system,Segoe
UI,Helvetica,Arial,sans-serif;margin:24px; color:#222;max-width:1100px}
h1{font-size:22px;margin:0 0 12px}
h2{font-size:18px;margin:28px 0 8px}
.summary{border:1px solid #ccc;border-radius:6px;padding:12px 16px;background:#fafafa}
.verdict{font-size:18px;font-weight:600}
.drift{color:#b00020}.nodrift{color:#1b7f3b}
table{border-collapse:collapse;font-size:13px;margin-top:8px}
th,td{border-bottom:1px solid #e3e3e3;padding:4px 8px;text-align:left}
tr.drifted td{background:#fde8eb}
.card{border:1px solid #ddd;border-radius:6px;padding:10px 14px;margin:12px 0}
.card.drifted{border:2px solid #b00020}
.card h3{margin:0 0 6px;font-size:15px}
.muted{color:#666;font-size:12px}
.legend span{display:inline-block;width:10px;height:10px;margin:0 4px 0 10px}
"""


def render_html(report: DriftReport | Mapping[str, Any], title: str = "Drift report") -> str:
    """Render a drift report (the object or its ``to_dict()``) as one HTML document.

    On top, the dataset verdict, the drifted columns and a table of every column's
    method, statistic and threshold; below, per column, the reference and current
    distributions overlaid: densities over the reference's quantile bins for numeric
    columns, paired bars of category shares for categorical ones.
    """
    data = report.to_dict() if isinstance(report, DriftReport) else report
    columns: Mapping[str, Mapping[str, Any]] = data["columns"]
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{_e(title)}</h1>",
        _summary(data),
        "<h2>Columns</h2>",
        _table(columns, data.get("critical_columns", [])),
    ]
    prediction = data.get("prediction")
    if prediction is not None:
        parts += [
            "<h2>Prediction</h2>",
            _card(str(data["prediction_column"]), prediction),
        ]
    parts.append("<h2>Distributions</h2>")
    parts += [_card(name, col) for name, col in columns.items()]
    parts.append("</body></html>")
    return "\n".join(parts)


def _e(value: Any) -> str:
    return escape(str(value), quote=True)


def _num(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, (bool, int)):
        return str(value)
    return f"{value:.4g}"


def _summary(data: Mapping[str, Any]) -> str:
    drift = bool(data["dataset_drift"])
    verdict = (
        '<div class="verdict drift">Dataset drift detected</div>'
        if drift
        else '<div class="verdict nodrift">No dataset drift</div>'
    )
    drifted = data["drifted_columns"]
    lines = [
        (
            f"{len(drifted)} of {data['n_evaluated']} evaluated columns drifted "
            f"(share {_num(data['drift_share'])}, "
            f"threshold {_num(data['drift_share_threshold'])})"
        ),
        "Drifted: " + (", ".join(_e(c) for c in drifted) if drifted else "none"),
    ]
    if data.get("critical_columns"):
        lines.append("Critical columns: " + ", ".join(_e(c) for c in data["critical_columns"]))
    if data.get("prediction_column") is not None:
        state = "drifted" if data["prediction_drift"] else "no drift"
        lines.append(f"Prediction {_e(data['prediction_column'])}: {state}")
    ref = data.get("reference", {})
    source = "stored profile" if ref.get("source") == "profile" else "raw reference data"
    model = ""
    if ref.get("model_name") is not None:
        model = f", model {_e(ref['model_name'])}"
        if ref.get("model_version") is not None:
            model += f" version {_e(ref['model_version'])}"
    lines.append(
        f"Reference: {_num(ref.get('rows'))} rows ({source}{model}); "
        f"current batch: {_num(data.get('current_rows'))} rows; "
        f"p-value correction: {_e(data.get('p_value_correction'))}"
    )
    return f'<div class="summary">{verdict}' + "".join(f"<div>{line}</div>" for line in lines) + "</div>"


def _table(columns: Mapping[str, Mapping[str, Any]], critical: Sequence[str]) -> str:
    head = (
        "<tr><th>column</th><th>kind</th><th>method</th><th>statistic</th>"
        "<th>threshold</th><th>drifted</th><th>status</th>"
        "<th>null share ref / cur</th></tr>"
    )
    rows = []
    for name, col in columns.items():
        css = ' class="drifted"' if col["drifted"] else ""
        mark = " (critical)" if name in critical else ""
        rows.append(
            f"<tr{css}><td>{_e(name)}{mark}</td><td>{_e(col['kind'])}</td>"
            f"<td>{_e(col['method'])}</td><td>{_num(col['statistic'])}</td>"
            f"<td>{_num(col['threshold'])}</td>"
            f"<td>{'yes' if col['drifted'] else 'no'}</td><td>{_e(col['status'])}</td>"
            f"<td>{_num(col.get('null_share_reference'))} / "
            f"{_num(col.get('null_share_current'))}</td></tr>"
        )
    return f"<table>{head}{''.join(rows)}</table>"


def _card(name: str, col: Mapping[str, Any]) -> str:
    hist = col["histogram"]
    chart = _category_chart(hist) if "labels" in hist else _numeric_chart(hist)
    keys = ("ks", "wasserstein", "psi", "js", "chi2_p_value", "p_value_adjusted")
    extras = ", ".join(f"{k} {_num(col[k])}" for k in keys if col.get(k) is not None)
    if col.get("unseen_categories"):
        extras += f"; unseen categories ({_num(col['unseen_share'])} of current): " + ", ".join(
            _e(c) for c in col["unseen_categories"]
        )
    verdict = "DRIFTED" if col["drifted"] else "no drift"
    return (
        f'<div class="card{" drifted" if col["drifted"] else ""}">'
        f'<h3>{_e(name)} <span class="{"drift" if col["drifted"] else "nodrift"}">'
        f"{verdict}</span></h3>"
        f'<div class="muted">{_e(col["method"])} = {_num(col["statistic"])} '
        f"(threshold {_num(col['threshold'])}), status {_e(col['status'])}; "
        f"{extras}</div>"
        f'<div class="legend muted"><span style="background:{REFERENCE_COLOR}"></span>'
        f'reference<span style="background:{CURRENT_COLOR}"></span>current</div>'
        f"{chart}</div>"
    )


def _shares(counts: Sequence[int]) -> list[float]:
    total = sum(counts)
    return [c / total if total else 0.0 for c in counts]


def _numeric_chart(hist: Mapping[str, Any]) -> str:
    """Densities over the quantile bins; the two open-ended outer bins (dashed) are
    drawn as wide as their inner neighbours."""
    edges = [e for e in hist["edges"] if e is not None]
    ref, cur = hist["reference"], hist["current"]
    if not edges or not ref:
        return '<p class="muted">no values to draw</p>'
    inner = edges[-1] - edges[0]
    left_w = edges[1] - edges[0] if len(edges) > 1 else 1.0
    right_w = edges[-1] - edges[-2] if len(edges) > 1 else 1.0
    bounds = [edges[0] - left_w, *edges, edges[-1] + right_w]
    span = (inner + left_w + right_w) or 1.0
    widths = [max(b - a, span * 1e-9) for a, b in itertools.pairwise(bounds)]
    series = [
        (REFERENCE_COLOR, _shares(ref)),
        (CURRENT_COLOR, _shares(cur or [0] * len(ref))),
    ]
    top = max(s / w for _, shares in series for s, w in zip(shares, widths, strict=True)) or 1.0
    height, plot_h, pad = 190, 150, 10

    def x(value: float) -> float:
        return pad + (value - bounds[0]) / span * (WIDTH - 2 * pad)

    shapes = []
    for color, shares in series:
        for i, (share, width) in enumerate(zip(shares, widths, strict=True)):
            bar_h = share / width / top * plot_h
            left, right = x(bounds[i]), x(bounds[i + 1])
            dashed = ' stroke-dasharray="3 2"' if i in (0, len(widths) - 1) else ""
            shapes.append(
                f'<rect x="{left:.1f}" y="{pad + plot_h - bar_h:.1f}" '
                f'width="{max(right - left, 0.5):.1f}" height="{bar_h:.1f}" '
                f'fill="{color}" fill-opacity="0.45" stroke="{color}"{dashed}>'
                f"<title>{_e(_bin_label(i, edges))}: {share:.2%}</title></rect>"
            )
    ticks = [edges[0], edges[len(edges) // 2], edges[-1]] if len(edges) > 2 else edges
    labels = "".join(
        f'<text x="{x(t):.1f}" y="{height - 8}" font-size="11" text-anchor="middle">{_e(_num(t))}</text>' for t in ticks
    )
    axis = f'<line x1="{pad}" x2="{WIDTH - pad}" y1="{pad + plot_h}" y2="{pad + plot_h}" stroke="#999"/>'
    return f'<svg width="{WIDTH}" height="{height}" role="img">{"".join(shapes)}{axis}{labels}</svg>'


def _bin_label(i: int, edges: Sequence[float]) -> str:
    if i == 0:
        return f"below {_num(edges[0])}"
    if i == len(edges):
        return f"{_num(edges[-1])} and above"
    return f"{_num(edges[i - 1])} to {_num(edges[i])}"


def _category_chart(hist: Mapping[str, Any]) -> str:
    """Paired horizontal bars of category shares, largest categories first."""
    labels = list(hist["labels"])
    ref, cur = list(hist["reference"]), list(hist["current"])
    other = hist.get("other") or [0, 0]
    if any(other):
        labels.append("(all other categories)")
        ref.append(other[0])
        cur.append(other[1])
    if not labels:
        return '<p class="muted">no values to draw</p>'
    ref_s, cur_s = _shares(ref), _shares(cur)
    top = max(ref_s + cur_s) or 1.0
    row, label_w = 24, 170
    bar_w = WIDTH - label_w - 110  # room for the share labels
    parts = []
    for i, label in enumerate(labels):
        y = 6 + i * row
        short = label if len(label) <= 24 else label[:23] + "\u2026"
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 14}" font-size="11" text-anchor="end">'
            f"<title>{_e(label)}</title>{_e(short)}</text>"
        )
        for j, (color, share) in enumerate(((REFERENCE_COLOR, ref_s[i]), (CURRENT_COLOR, cur_s[i]))):
            parts.append(
                f'<rect x="{label_w}" y="{y + j * 10}" '
                f'width="{share / top * bar_w:.1f}" '
                f'height="9" fill="{color}"><title>{_e(label)}: '
                f"{'reference' if j == 0 else 'current'} {share:.2%}</title></rect>"
            )
        parts.append(
            f'<text x="{label_w + max(ref_s[i], cur_s[i]) / top * bar_w + 4:.1f}" '
            f'y="{y + 14}" '
            f'font-size="10" fill="#555">{ref_s[i]:.1%} / {cur_s[i]:.1%}</text>'
        )
    height = 12 + len(labels) * row
    return f'<svg width="{WIDTH}" height="{height}" role="img">{"".join(parts)}</svg>'
