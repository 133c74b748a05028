"""The CI report of a change: markdown (the pull request comment), HTML (one self-contained page), JSON.

Rendered through the shared Jinja2 layer (``mlplat.reports.html``; the HTML page extends
base.html). Charts are PNG: embedded as data URIs in HTML; written beside a markdown report
and named by their path (GitHub and GitLab strip data-URI images from comments and a
relative image would show broken, so the CI workflow uploads them with the report as an
artifact).
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from mlplat.errors import ConfigError
from mlplat.reports import html

TEMPLATES = Path(__file__).with_name("templates")
FORMATS = {".md": "md", ".html": "html", ".json": "json"}
ICONS = {"pass": "✅", "fail": "❌", "review": "👀", "error": "💥", "none": "➖"}
BADGES = {"pass": "passed", "review": "warning", "fail": "failed", "error": "error", "none": "none"}


def format_of(path: Path | None, fmt: str | None) -> str:
    if fmt:
        if fmt not in FORMATS.values():
            raise ConfigError(f"unknown report format {fmt!r}: use md, html or json")
        return fmt
    if path is None:
        return "md"
    try:
        return FORMATS[path.suffix.lower()]
    except KeyError:
        raise ConfigError(f"report {str(path)!r}: cannot tell the format from {path.suffix or 'no suffix'!r}; "
                          "name it .md, .html or .json, or pass --format md|html|json") from None


def headline(result: dict[str, Any]) -> str:
    n = len(result["experiments"])
    v = result["verdict"]
    if v == "none":
        return "no experiment affected"
    words = {"pass": "all gates pass", "review": "gates pass, review needed", "fail": "a gate fails",
             "error": "an experiment failed to run"}
    return f"{ICONS[v]} {words[v]} ({n} experiment{'s' if n != 1 else ''} vs {result['target']})"


def chart_png(exp: dict[str, Any]) -> bytes | None:
    """Candidate vs production per holdout metric (scores and losses side by side)."""
    rows = [r for r in exp.get("metrics") or [] if r.get("candidate") is not None]
    if not rows:
        return None
    from mlplat.reports.charts import _png, _pyplot

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 0.5 * len(rows) + 1.3))
    ys = list(range(len(rows)))[::-1]
    ax.barh([y + 0.2 for y in ys], [r["candidate"] for r in rows], height=0.4, color="#1f77b4", label="candidate")
    if any(r.get("production") is not None for r in rows):
        ax.barh([y - 0.2 for y in ys], [r["production"] or 0 for r in rows], height=0.4, color="#7f7f7f",
                label=exp["target"] + (f" v{exp['champion']['version']}" if exp.get("champion") else ""))
    ax.set_yticks(ys, [f"{r['metric']} ({'↑' if r['higher_is_better'] else '↓'})" for r in rows])
    for y, r in zip(ys, rows, strict=True):
        ax.text(r["candidate"], y + 0.2, f" {r['candidate']:.4f}", va="center", fontsize=7)
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title(f"{exp['experiment']}: holdout metrics")
    return _png(fig)


def _num(v: Any) -> str:
    return "-" if v is None else f"{v:.4f}"


def _signed(v: Any) -> str:
    return "-" if v is None else f"{v:+.4f}"


def render(result: dict[str, Any], fmt: str, *, chart_dir: Path | None = None, stem: str = "ci-report",
           marker: str = "") -> str:
    """The report as text; markdown charts are written to ``chart_dir`` (skipped when None)."""
    if fmt == "json":
        return json.dumps(result, indent=2, sort_keys=True, default=str)
    charts: dict[str, str] = {}
    for exp in result["experiments"]:
        if fmt == "md" and chart_dir is None:
            continue
        png = chart_png(exp) if not exp.get("error") else None
        if png is None:
            continue
        if fmt == "html":
            charts[exp["experiment"]] = "data:image/png;base64," + base64.b64encode(png).decode()
        else:
            assert chart_dir is not None
            name = f"{stem}-{exp['experiment']}.png"
            (chart_dir / name).write_bytes(png)
            charts[exp["experiment"]] = name
    env = html.add_templates(TEMPLATES)
    common = {"result": result, "headline": headline(result), "charts": charts, "icons": ICONS, "num": _num,
              "signed": _signed}
    if fmt == "html":
        metric_rows = {e["experiment"]: [[r["metric"], _num(r["candidate"]), _num(r["production"]),
                                          _signed(r["delta"]), f"{_num(r['cv_mean'])} ± {_num(r['cv_std'])}"]
                                         for r in e["metrics"]] for e in result["experiments"]}
        gate_rows = {e["experiment"]: [[g["gate"], g["status"], g["detail"]] for g in e["gates"]]
                     for e in result["experiments"]}
        return env.get_template("ci_report.html").render(title=f"mlplat CI {result['commit'][:12]}", generated=None,
                                                         badges=BADGES, metric_rows=metric_rows, gate_rows=gate_rows,
                                                         **common)
    return env.get_template("ci_report.md").render(marker=marker, **common)


def write(result: dict[str, Any], path: Path, fmt: str | None = None, *, marker: str = "") -> Path:
    fmt = format_of(path, fmt)
    text = render(result, fmt, chart_dir=path.parent, stem=path.stem, marker=marker)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    tmp.replace(path)
    return path
