"""JSON and self-contained HTML renderings of a :class:`DriftResult`.

Why inline SVG: the report must open anywhere (CI artefact, e-mail, object
store) without JavaScript, network or image files, and stay small — each plot
is a few hundred bytes, so 25 features stay far below 1 MB.  The plot data
(reference vs current shares per bin/category) is already in the result, so
rendering needs neither the profile nor the current frame.
"""

from __future__ import annotations

import html
from typing import Any

from mlplat.monitoring.drift import DriftResult

__all__ = ["to_html", "to_json"]

_STATUS_ORDER = {"drift": 0, "error": 1, "warn": 2, "ok": 3}
_COLOURS = {"drift": "#c0392b", "error": "#7f8c8d", "warn": "#d68910", "ok": "#1e8449"}
_REF, _CUR = "#2e86c1", "#e67e22"
_W, _H = 240, 70

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#222}
h1{font-size:1.4em;margin:0 0 4px}h2{font-size:1.1em;margin:24px 0 8px}
.summary{display:flex;gap:24px;flex-wrap:wrap;margin:12px 0}
.card{border:1px solid #ddd;border-radius:6px;padding:8px 14px}
.card b{display:block;font-size:1.3em}
table{border-collapse:collapse;width:100%;font-size:.9em}
th,td{border-bottom:1px solid #eee;padding:4px 8px;text-align:left;vertical-align:middle}
th{background:#f7f7f7}
.badge{color:#fff;border-radius:4px;padding:1px 6px;font-size:.85em}
.legend span{display:inline-block;width:10px;height:10px;margin:0 4px 0 12px}
.notes{color:#555;font-size:.9em}
"""


def to_json(result: DriftResult | dict[str, Any]) -> dict[str, Any]:
    """JSON-safe dict of a drift result (``json.dumps`` works on it directly)."""
    if isinstance(result, dict):
        return result
    return result.to_dict()


def _fmt(value: Any, digits: int = 4) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return html.escape(str(value))


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def _bars(ref: list[float], cur: list[float], labels: list[str] | None) -> str:
    """Side-by-side bars of reference and current shares, scaled to the max."""
    n = max(len(ref), 1)
    top = max([*ref, *cur, 1e-12])
    slot = _W / n
    bar = max(slot / 2 - 0.5, 0.5)
    parts = []
    for i, (r, c) in enumerate(zip(ref, cur, strict=False)):
        x = i * slot
        label = html.escape(labels[i]) if labels else f"bin {i + 1}"
        for offset, val, colour, who in ((0.0, r, _REF, "ref"), (bar, c, _CUR, "cur")):
            h = (val / top) * (_H - 4)
            parts.append(
                f'<rect x="{x + offset:.1f}" y="{_H - h:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                f'fill="{colour}"><title>{label} {who} {val:.1%}</title></rect>'
            )
    return "".join(parts)


def _svg(plot: dict[str, Any] | None) -> str:
    if not plot:
        return ""
    labels = plot.get("labels") if plot.get("type") == "bar" else None
    if plot.get("type") == "hist" and plot.get("edges"):
        # reference-quantile bins: equal reference mass, so deviations read like a P-P plot
        e = plot["edges"]
        labels = [f"[{e[i]:.3g}, {e[i + 1]:.3g})" for i in range(len(e) - 1)]
    body = _bars(list(plot.get("ref", [])), list(plot.get("cur", [])), labels)
    caption = ""
    if plot.get("type") == "hist" and plot.get("edges"):
        edges = plot["edges"]
        caption = (
            f'<text x="0" y="{_H + 11}" font-size="9">{edges[0]:.3g}</text>'
            f'<text x="{_W}" y="{_H + 11}" font-size="9" text-anchor="end">{edges[-1]:.3g}</text>'
        )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_W}" height="{_H + 14}" '
        f'viewBox="0 0 {_W} {_H + 14}">{body}{caption}</svg>'
    )


def _row(feat: dict[str, Any]) -> str:
    status = feat["status"]
    badge = (
        f'<span class="badge" style="background:{_COLOURS.get(status, "#555")}">{html.escape(status)}</span>'
    )
    unseen = ", ".join(html.escape(u) for u in feat.get("unseen_categories", [])[:5])
    cells = [
        html.escape(feat["name"]),
        html.escape(feat.get("kind") or ""),
        badge,
        _fmt(feat.get("method")),
        _fmt(feat.get("score")),
        _fmt(feat.get("threshold")),
        f"{_pct(feat.get('null_share_ref'))} → {_pct(feat.get('null_share_cur'))}",
        unseen or "–",
        html.escape(feat.get("reason") or ""),
        _svg(feat.get("plot")),
    ]
    return "<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"


def _sort_key(feat: dict[str, Any]) -> tuple[int, float]:
    """Worst first: by status, then by how far past the threshold the score is."""
    score, thr = feat.get("score"), feat.get("threshold")
    severity = 0.0
    if score is not None and thr:
        is_p = feat.get("method") in ("ks", "chisquare", "z")
        severity = (thr / max(score, 1e-300)) if is_p else (score / thr)
    return _STATUS_ORDER.get(feat["status"], 9), -severity


def _table(title: str, feats: dict[str, dict[str, Any]]) -> str:
    if not feats:
        return ""
    head = "".join(
        f"<th>{h}</th>"
        for h in (
            "feature",
            "kind",
            "status",
            "method",
            "score",
            "threshold",
            "nulls ref → cur",
            "unseen",
            "reason",
            "distribution",
        )
    )
    rows = "".join(_row(f) for f in sorted(feats.values(), key=_sort_key))
    return f"<h2>{html.escape(title)}</h2><table><tr>{head}</tr>{rows}</table>"


def to_html(result: DriftResult | dict[str, Any], *, title: str = "Drift report") -> str:
    """Self-contained HTML report: summary cards, then features worst first."""
    data = to_json(result)
    status = data["status"]
    cards = [
        ("overall", f'<span style="color:{_COLOURS.get(status, "#555")}">{html.escape(status)}</span>'),
        ("dataset drift", "yes" if data["dataset_drift"] else "no"),
        ("drifted features", f"{data['n_drifted']} / {data['n_checked']} ({data['share_drifted']:.0%})"),
        ("drift share threshold", f"{data['drift_share']:.0%}"),
        ("mode", html.escape(str(data["mode"]))),
    ]
    summary = "".join(f'<div class="card">{k}<b>{v}</b></div>' for k, v in cards)
    legend = (
        f'<div class="legend"><span style="background:{_REF}"></span>reference'
        f'<span style="background:{_CUR}"></span>current</div>'
    )
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in data.get("notes", []))
    notes_html = f'<ul class="notes">{notes}</ul>' if notes else ""
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>"
        f'<h1>{html.escape(title)}</h1><div class="summary">{summary}</div>{legend}{notes_html}'
        f"{_table('Predictions', data.get('predictions', {}))}"
        f"{_table('Features', data['features'])}</body></html>"
    )
