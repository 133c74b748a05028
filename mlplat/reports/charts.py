"""Pictures of runs and sweeps: PNG bytes and self-contained HTML (matplotlib, Agg backend).

Inputs are the plain data ``mlplat.ops`` returns, outputs are bytes, so the CLI writes them to
a file and the Slack bot uploads them without touching the filesystem.
"""

from __future__ import annotations

import base64
import io
import math
from typing import Any

from mlplat.reports import html as pages

BEST = "#d62728"
OTHER = "#1f77b4"
FAILED = "#7f7f7f"


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # no display on servers and in the bot; must precede pyplot's import
    import matplotlib.pyplot as plt

    return plt


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    _pyplot().close(fig)
    return buf.getvalue()


def _label(row: dict) -> str:
    return f"#{row.get('rank', '?')} {str(row['id'])[:8]} {row.get('model') or ''}".strip()


def leaderboard_png(rows: list[dict], metric: str, direction: str, *, title: str) -> bytes:
    """One horizontal bar per run (rank 1 on top) with its fold std as error bar; the best in red."""
    plt = _pyplot()
    n = max(len(rows), 1)
    fig, ax = plt.subplots(figsize=(8, 1.2 + 0.4 * n))
    if not rows:
        ax.text(0.5, 0.5, "no finished runs match", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
    else:
        ys = list(range(len(rows)))[::-1]
        values = [r["value"] for r in rows]
        stds = [r["std"] or 0.0 for r in rows]
        colors = [BEST if i == 0 else OTHER for i in range(len(rows))]
        ax.barh(ys, values, xerr=stds, color=colors, alpha=0.85, capsize=3)
        ax.set_yticks(ys, [_label(r) for r in rows], fontsize=8)
        low = min(v - s for v, s in zip(values, stds, strict=True))
        high = max(v + s for v, s in zip(values, stds, strict=True))
        pad = (high - low) * 0.15 or abs(high) * 0.05 or 0.05
        ax.set_xlim(low - pad, high + pad)  # bars from 0 would hide differences in the 3rd decimal
        for y, v in zip(ys, values, strict=True):
            ax.text(v, y, f" {v:.4f}", va="center", ha="left", fontsize=7)
        arrow = "higher is better" if direction == "maximize" else "lower is better"
        ax.set_xlabel(f"{metric} (mean ± std over folds; {arrow})")
    ax.set_title(title)
    return _png(fig)


def leaderboard_html(rows: list[dict], metric: str, direction: str, *, title: str) -> bytes:
    """One HTML file, no external resources: the chart inlined as a data URI and the table
    (template leaderboard.html)."""
    png = base64.b64encode(leaderboard_png(rows, metric, direction, title=title)).decode()
    cells = [{"rank": r.get("rank", ""), "id": str(r["id"]), "model": str(r.get("model") or ""),
              "dataset": str(r.get("dataset") or ""),
              "score": f"{r['value']:.4f}" + (f" ± {r['std']:.4f}" if r.get("std") is not None else ""),
              "holdout": f"{r['holdout']:.4f}" if r.get("holdout") is not None else "",
              "sweep": str(r.get("sweep_id") or "")} for r in rows]
    page = pages.render("leaderboard.html", title=title, metric=metric, chart=f"data:image/png;base64,{png}",
                        rows=cells, generated=None)
    return page.encode()


def _numeric(values: list[Any]) -> bool:
    return all(isinstance(v, int | float) and not isinstance(v, bool) for v in values if v is not None)


def sweep_png(data: dict) -> bytes:
    """Optimisation history, then one panel per searched parameter, then Optuna's importances."""
    plt = _pyplot()
    trials, keys, metric = data["trials"], data["keys"], data["metric"] or "metric"
    maximize = data["direction"] == "maximize"
    panels = 1 + len(keys) + (1 if data["importances"] else 0)
    cols = min(3, panels)
    rows_n = math.ceil(panels / cols)
    fig, axes = plt.subplots(rows_n, cols, figsize=(5 * cols, 3.6 * rows_n), squeeze=False)
    flat = list(axes.flat)
    done = [t for t in trials if t["status"] == "done" and t["primary_value"] is not None]
    best = (max if maximize else min)(done, key=lambda t: t["primary_value"]) if done else None

    ax = flat[0]
    xs = [t["job_num"] if t["job_num"] is not None else i for i, t in enumerate(trials)]
    for x, t in zip(xs, trials, strict=True):
        if t in done:
            ax.scatter(x, t["primary_value"], color=BEST if t is best else OTHER, zorder=3, s=22)
        else:
            ax.axvline(x, color=FAILED, alpha=0.3, linestyle=":")  # failed/crashed trial: a mark, no value
    if done:
        running, line_x, line_y = None, [], []
        for x, t in zip(xs, trials, strict=True):
            if t in done:
                v = t["primary_value"]
                running = v if running is None else (max(running, v) if maximize else min(running, v))
            if running is not None:
                line_x.append(x)
                line_y.append(running)
        ax.step(line_x, line_y, where="post", color=BEST, alpha=0.7, label="best so far")
        ax.legend(fontsize=7)
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("trial (job number)")
    ax.set_ylabel(metric)
    failed = len(trials) - len(done)
    ax.set_title(f"optimisation history ({len(done)} done, {failed} failed/crashed)", fontsize=9)

    for ax, key in zip(flat[1:], keys, strict=False):
        pts = [(t["params"].get(key), t["primary_value"], t is best) for t in done]
        values = [p[0] for p in pts]
        if _numeric(values):
            ax.scatter([p[0] for p in pts], [p[1] for p in pts],
                       c=[BEST if p[2] else OTHER for p in pts], s=22)
            positive = [v for v in values if v is not None]
            if positive and min(positive) > 0 and max(positive) / min(positive) > 100:
                ax.set_xscale("log")  # log-scale searches (learning rates, C) are unreadable on a linear axis
        else:
            labels = sorted({str(v) for v in values})
            pos = {label: i for i, label in enumerate(labels)}
            ax.scatter([pos[str(p[0])] for p in pts], [p[1] for p in pts],
                       c=[BEST if p[2] else OTHER for p in pts], s=22)
            ax.set_xticks(range(len(labels)), labels, fontsize=7, rotation=20)
        ax.set_xlabel(key, fontsize=8)
        ax.set_ylabel(metric)
        ax.set_title(f"{key.rsplit('.', 1)[-1]} vs {metric}", fontsize=9)

    used = 1 + len(keys)
    if data["importances"]:
        ax = flat[used]
        names = list(data["importances"])[::-1]
        ax.barh(range(len(names)), [data["importances"][n] for n in names], color=OTHER)
        ax.set_yticks(range(len(names)), [n.rsplit(".", 1)[-1] for n in names], fontsize=8)
        ax.set_title(f"parameter importance (Optuna {data.get('importance_evaluator') or 'importance'})", fontsize=9)
        used += 1
    for ax in flat[used:]:
        ax.set_axis_off()
    sweep = data["sweep"]
    fig.suptitle(f"sweep {sweep['id']} ({sweep.get('status')}); best run {best['id'] if best else '-'}", fontsize=10)
    fig.tight_layout()
    return _png(fig)


__all__ = ["leaderboard_png", "leaderboard_html", "sweep_png"]
