"""A data profile as a self-contained HTML page, Markdown for a pull request, or JSON with every figure.

HTML renders through mlplat.reports.html (Jinja2, autoescaped, the one base template and
stylesheet); charts are inline SVG prepared here as plain numbers, so the page makes no
request anywhere. Heatmaps show at most ``HEATMAP_MAX`` columns (the most associated ones),
which keeps a 100-column report well under 1 MiB; the JSON keeps every pair.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from mlplat.reports import html as html_layer

__all__ = ["HEATMAP_MAX", "to_html", "to_json", "to_markdown", "compare_markdown"]

HEATMAP_MAX = 30
TOP_PAIRS = 15
TEMPLATES = Path(__file__).with_name("templates")


def _num(v: Any, digits: int = 4) -> str:
    if v is None:
        return "–"
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        if not math.isfinite(v):
            return "–"
        return f"{v:.{digits}g}"
    return str(v)


def _pct(v: float | None) -> str:
    return "–" if v is None else f"{v:.1%}"


def _bytes(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def _hist_chart(hist: dict[str, Any] | None, title: str) -> dict[str, Any] | None:
    if not hist or not hist.get("counts"):
        return None
    counts, edges = hist["counts"], hist["edges"]
    top = max(counts) or 1
    fmt = (lambda e: str(e)[:10]) if isinstance(edges[0], str) else (lambda e: _num(float(e)))
    return {"title": title, "heights": [c / top for c in counts],
            "tips": [f"{fmt(edges[i])} .. {fmt(edges[i + 1])}: {c}" for i, c in enumerate(counts)],
            "left": fmt(edges[0]), "right": fmt(edges[-1])}


def _stats(col: dict[str, Any]) -> list[list[str]]:
    rows = [["missing", f"{_pct(col.get('missing_share'))} ({col.get('n_missing', 0):,})"],
            ["distinct", f"{_num(col.get('n_distinct'))} ({_pct(col.get('distinct_share'))})"]]
    if "mean" in col:
        rows += [["mean", _num(col.get("mean"))], ["std", _num(col.get("std"))], ["min", _num(col.get("min"))]]
        rows += [[q, _num(v)] for q, v in (col.get("quantiles") or {}).items()]
        rows += [["max", _num(col.get("max"))], ["zeros", _num(col.get("n_zeros"))]]
        if col.get("n_infinite"):
            rows.append(["infinite", _num(col["n_infinite"])])
    elif col.get("kind") == "datetime":
        rows += [["min", str(col.get("min"))], ["max", str(col.get("max"))], ["span (days)", _num(col.get("span_days"))]]
    else:
        rows.append(["most frequent", _pct(col.get("top_share"))])
        if col.get("mean_length") is not None:
            rows.append(["mean length", _num(col["mean_length"], 3)])
        if col.get("non_numeric_count"):
            rows.append(["non-numeric values", f"{col['non_numeric_count']:,} (e.g. {', '.join(col['non_numeric_examples'])})"])
    return rows


def _top_rows(col: dict[str, Any]) -> list[dict[str, Any]]:
    top = [{"label": str(t["value"])[:18], "share": float(t["share"])} for t in col.get("top") or []]
    n_valid = sum(t["count"] for t in col.get("top") or []) + int(col.get("other_count") or 0)
    if col.get("other_count"):
        top.append({"label": "(other)", "share": col["other_count"] / n_valid})
    return top


def _fill(v: float | None) -> str:
    """White at 0, red towards +1, blue towards -1."""
    if v is None or not math.isfinite(v):
        return "#eeeeee"
    a = max(-1.0, min(1.0, v))
    g = int(255 - 200 * abs(a))
    return f"#ff{g:02x}{g:02x}" if a >= 0 else f"#{g:02x}{g:02x}ff"


def _pairs(profile: dict[str, Any]) -> list[tuple[str, str, str, float]]:
    out = []
    assoc = profile.get("associations") or {}
    for measure in ("pearson", "spearman", "cramers_v"):
        m = assoc.get(measure)
        if not m:
            continue
        cols = m["columns"]
        for i in range(len(cols)):
            for j in range(i + 1, len(cols)):
                v = m["matrix"][i][j]
                if v is not None:
                    out.append((cols[i], cols[j], measure, v))
    cr = assoc.get("correlation_ratio")
    if cr:
        for i, a in enumerate(cr["numeric"]):
            for j, b in enumerate(cr["categorical"]):
                v = cr["matrix"][i][j]
                if v is not None and a != b:
                    out.append((a, b, "correlation_ratio", v))
    return out


def _heatmaps(profile: dict[str, Any]) -> tuple[list[dict[str, Any]], int | None]:
    assoc = profile.get("associations") or {}
    maps, capped = [], None
    titles = {"pearson": "Pearson", "spearman": "Spearman", "cramers_v": "Cramér's V"}
    for key, title in titles.items():
        m = assoc.get(key)
        if not m or len(m["columns"]) < 2:
            continue
        cols, mat = m["columns"], m["matrix"]
        idx = list(range(len(cols)))
        if len(cols) > HEATMAP_MAX:
            strength = [max((abs(v) for j, v in enumerate(row) if j != i and v is not None), default=0.0)
                        for i, row in enumerate(mat)]
            idx = sorted(sorted(idx, key=lambda i: -strength[i])[:HEATMAP_MAX])
            capped = HEATMAP_MAX
        cells = [{"i": a, "j": b, "fill": _fill(mat[i][j]),
                  "tip": f"{cols[i]} / {cols[j]}: {_num(mat[i][j], 3)}"}
                 for a, i in enumerate(idx) for b, j in enumerate(idx)]
        maps.append({"title": title, "columns": [cols[i][:22] for i in idx], "cells": cells})
    return maps, capped


def _context(profile: dict[str, Any], title: str, source: str) -> dict[str, Any]:
    cols = profile["columns"]
    n = profile["n_rows"]
    missing = sum(int(c.get("n_missing") or 0) for c in cols.values())
    cells = n * max(len(cols), 1)
    overview = [[name, c.get("kind"), c.get("dtype"), _pct(c.get("missing_share")), _num(c.get("n_distinct")),
                 _pct(c.get("top_share"))] for name, c in cols.items()]
    columns = []
    for name, c in cols.items():
        columns.append({"name": name, "kind": c.get("kind"), "dtype": c.get("dtype"), "stats": _stats(c),
                        "hist": _hist_chart(c.get("histogram"), name), "top": _top_rows(c) if "top" in c else None})
    target = profile.get("target")
    ta = profile.get("target_associations") or {}
    target_rows = [[k, r["measure"], _num(r["value"]), _num(r.get("strength"))]
                   for k, r in sorted(ta.items(), key=lambda kv: -(kv[1].get("strength") or 0))]
    ts = profile.get("target_summary") or {}
    target_chart = [{"label": str(c["value"])[:18], "share": c["share"]} for c in ts.get("classes") or []][:12]
    heatmaps, capped = _heatmaps(profile)
    pairs = sorted(_pairs(profile), key=lambda p: -abs(p[3]))[:TOP_PAIRS]
    return {
        "title": title, "source": source, "rows": f"{n:,}", "n_columns": f"{profile['n_columns']:,}",
        "duplicates": f"{profile['n_duplicate_rows']:,} ({_pct(profile['duplicate_share'])})",
        "missing": f"{missing:,} ({_pct(missing / cells if cells else 0.0)})",
        "memory": _bytes(profile.get("memory_bytes") or 0), "target": target, "task": profile.get("task"),
        "warnings": profile.get("warnings") or [], "overview": overview, "columns": columns,
        "skipped": [[k, v] for k, v in (profile.get("skipped") or {}).items()],
        "target_rows": target_rows if target else [], "target_chart": target_chart,
        "target_hist": _hist_chart(ts.get("histogram"), str(target)) if ts.get("task") == "regression" else None,
        "heatmaps": heatmaps, "capped": capped,
        "top_pairs": [[a, b, m, _num(v)] for a, b, m, v in pairs], "generated": None,
    }


def to_html(profile: dict[str, Any], *, title: str, source: str) -> str:
    env = html_layer.add_templates(TEMPLATES)
    return env.get_template("data_profile.html").render(**_context(profile, title, source))


def to_json(obj: dict[str, Any]) -> str:
    return json.dumps(obj, indent=1, default=str, allow_nan=False) + "\n"


def _md_escape(v: Any) -> str:
    return str(v).replace("|", "\\|").replace("\n", " ")


def _md_table(headers: list[str], rows: list[list[Any]]) -> str:
    if not rows:
        return "_none_\n"
    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join(_md_escape(v) for v in row) + " |" for row in rows]
    return "\n".join(out) + "\n"


def to_markdown(profile: dict[str, Any], *, title: str, source: str) -> str:
    ctx = _context(profile, title, source)
    out = [f"# {title}", "", source, "",
           f"**{ctx['rows']} rows**, {ctx['n_columns']} columns; duplicated rows {ctx['duplicates']}; "
           f"missing cells {ctx['missing']}" + (f"; target `{ctx['target']}` ({ctx['task']})" if ctx["target"] else ""),
           "", f"## Warnings ({len(ctx['warnings'])})", ""]
    out += [f"- **{w['type']}**{' `' + w['column'] + '`' if w['column'] else ''}: {w['message']}"
            for w in ctx["warnings"]] or ["_none_"]
    out += ["", "## Columns", "", _md_table(["column", "kind", "dtype", "missing", "distinct", "top value share"],
                                             ctx["overview"])]
    num_rows = [[name, _num(c.get("mean")), _num(c.get("std")), _num(c.get("min")),
                 *[_num((c.get("quantiles") or {}).get(q)) for q in ("25%", "50%", "75%")], _num(c.get("max"))]
                for name, c in profile["columns"].items() if "mean" in c]
    if num_rows:
        out += ["## Numeric columns", "", _md_table(["column", "mean", "std", "min", "25%", "50%", "75%", "max"],
                                                    num_rows)]
    if ctx["target_rows"]:
        out += [f"## Against the target `{ctx['target']}`", "",
                _md_table(["feature", "measure", "value", "strength"], ctx["target_rows"])]
    if ctx["top_pairs"]:
        out += ["## Strongest associations", "", _md_table(["column", "column", "measure", "value"], ctx["top_pairs"])]
    return "\n".join(out)


def compare_markdown(result: dict[str, Any], *, title: str) -> str:
    schema, shares, drift = result["schema"], result["shares"], result["drift"]
    declared = schema.get("declared")
    out = [f"# {title}", "", f"**status: {result['status']}**", "",
           f"rows {shares['rows']['reference']:,} -> {shares['rows']['current']:,}; duplicated rows "
           f"{shares['duplicate_rows']['reference']:,} -> {shares['duplicate_rows']['current']:,}", "",
           "## Schema", "", f"- declared schema: {declared['message'] if declared else 'no dataset config'}",
           f"- columns added: {', '.join(schema['added']) or 'none'}",
           f"- columns removed: {', '.join(schema['removed']) or 'none'}"]
    out += [f"- dtype of `{d['column']}`: {d['reference']} -> {d['current']}" for d in schema["dtype_changed"]]
    out += [f"- kind of `{d['column']}`: {d['reference']} -> {d['current']}" for d in schema["kind_changed"]]
    out += ["", f"## Distributions (drift: {drift['status']}, {drift['n_drifted']}/{drift['n_checked']} drifted)", "",
            _md_table(["column", "status", "method", "score", "threshold", "missing ref -> cur", "why"],
                      [[k, f["status"], f.get("method") or "–", _num(f.get("score")), _num(f.get("threshold")),
                        f"{_pct(f.get('null_share_ref'))} -> {_pct(f.get('null_share_cur'))}", f.get("reason") or ""]
                       for k, f in drift["features"].items()])]
    return "\n".join(out)
