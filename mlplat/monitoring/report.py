"""JSON and self-contained HTML renderings of a :class:`DriftResult`.

Why inline SVG: the report must open anywhere (CI artefact, e-mail, object
store) without JavaScript, network or image files, and stay small — each plot
is a few hundred bytes, so 25 features stay far below 1 MB.  The plot data
(reference vs current shares per bin/category) is already in the result, so
rendering needs neither the profile nor the current frame. The page is the
``drift_report.html`` template (mlplat.reports.html): this module computes the
cells and the bars' geometry, the template lays them out and escapes every value.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from mlplat.monitoring.drift import DriftResult
from mlplat.reports import html as pages

__all__ = ["to_html", "to_json"]

_STATUS_ORDER = {"drift": 0, "error": 1, "warn": 2, "ok": 3}
_W, _H = 240, 70


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
    return str(value)


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def _bars(ref: list[float], cur: list[float], labels: list[str] | None) -> list[dict[str, str]]:
    """Side-by-side bars of reference and current shares, scaled to the max."""
    n = max(len(ref), 1)
    top = max([*ref, *cur, 1e-12])
    slot = _W / n
    bar = max(slot / 2 - 0.5, 0.5)
    out = []
    for i, (r, c) in enumerate(zip(ref, cur, strict=False)):
        x = i * slot
        label = str(labels[i]) if labels else f"bin {i + 1}"
        for offset, val, who in ((0.0, r, "ref"), (bar, c, "cur")):
            h = (val / top) * (_H - 4)
            out.append({"who": who, "x": f"{x + offset:.1f}", "y": f"{_H - h:.1f}", "w": f"{bar:.1f}",
                        "h": f"{h:.1f}", "label": label, "share": f"{val:.1%}"})
    return out


def _plot(plot: dict[str, Any] | None) -> dict[str, Any] | None:
    """The geometry the template draws for one feature's distribution, or None."""
    if not plot:
        return None
    labels = plot.get("labels") if plot.get("type") == "bar" else None
    ends = None
    if plot.get("type") == "hist" and plot.get("edges"):
        # fixed-width bins over the reference's range, shared by both sides (feature_drift._numeric_plot)
        e = plot["edges"]
        labels = [f"[{e[i]:.3g}, {e[i + 1]:.3g})" for i in range(len(e) - 1)]
        ends = (f"{e[0]:.3g}", f"{e[-1]:.3g}")
    return {"width": _W, "height": _H + 14, "ends": ends,
            "bars": _bars(list(plot.get("ref", [])), list(plot.get("cur", [])), labels)}


def _row(feat: dict[str, Any]) -> dict[str, Any]:
    unseen = ", ".join(str(u) for u in feat.get("unseen_categories", [])[:5])
    return {"name": feat["name"], "kind": feat.get("kind") or "", "status": feat["status"],
            "method": _fmt(feat.get("method")), "score": _fmt(feat.get("score")),
            "threshold": _fmt(feat.get("threshold")),
            "nulls": f"{_pct(feat.get('null_share_ref'))} → {_pct(feat.get('null_share_cur'))}",
            "unseen": unseen or "–", "reason": feat.get("reason") or "", "plot": _plot(feat.get("plot"))}


def _sort_key(feat: dict[str, Any]) -> tuple[int, float]:
    """Worst first: by status, then by how far past the threshold the score is."""
    score, thr = feat.get("score"), feat.get("threshold")
    severity = 0.0
    if score is not None and thr:
        is_p = feat.get("method") in ("ks", "chisquare", "z")
        severity = (thr / max(score, 1e-300)) if is_p else (score / thr)
    return _STATUS_ORDER.get(feat["status"], 9), -severity


def _rows(feats: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    return [_row(f) for f in sorted(feats.values(), key=_sort_key)]


def to_html(result: DriftResult | dict[str, Any], *, title: str = "Drift report") -> str:
    """Self-contained HTML report: summary cards, then features worst first."""
    data = to_json(result)
    cards = [
        ("dataset drift", "yes" if data["dataset_drift"] else "no"),
        ("drifted features", f"{data['n_drifted']} / {data['n_checked']} ({data['share_drifted']:.0%})"),
        ("drift share threshold", f"{data['drift_share']:.0%}"),
        ("mode", str(data["mode"])),
    ]
    checked = data.get("checked_at")
    generated = dt.datetime.fromtimestamp(float(checked), dt.UTC).strftime("%Y-%m-%d %H:%M UTC") if checked else None
    return pages.render("drift_report.html", title=title, data=data, cards=cards, generated=generated,
                        tables=[("Predictions", _rows(data.get("predictions", {}))),
                                ("Features", _rows(data["features"]))])
