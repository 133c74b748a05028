"""The governance report as Markdown, self-contained HTML (inline charts) and JSON."""

from __future__ import annotations

import json
from typing import Any

from mlplat.governance.render import fmt_num, iso, md_table, png_data_uri, pyplot
from mlplat.reports import html as pages


def headline(report: dict[str, Any]) -> str:
    runs = report["runs"]
    parts = [f"{len(report['production'])} production model(s)",
             f"{runs['total']} run(s) ({len(runs['failures'])} failed)", f"{len(report['sweeps'])} sweep(s)",
             f"{len(report['approvals']['pending'])} pending / {len(report['approvals']['expired'])} expired "
             "approval request(s)", f"{len(report['violations'])} policy violation(s)",
             "audit chain " + ("verified" if report["audit"]["ok"] else "BROKEN")]
    return f"Governance {report['status']}: " + "; ".join(parts)


# -- rendering ------------------------------------------------------------------------------
def _production_rows(report: dict[str, Any]) -> list[list[Any]]:
    rows = []
    for p in report["production"]:
        appr = p["approval"]
        who = ", ".join(a["approver"] for a in appr["approvers"]) if appr else "NO RECORDED APPROVAL"
        when = iso(appr["approvers"][-1]["ts"]) if appr else "–"
        perf = p["performance"]
        rows.append([p["name"], p["version"], f"{p['age_days']:.1f} d", iso(p["in_production_since"]), who, when,
                     p["drift"]["text"], f"{perf['metric']}: cv {fmt_num(perf['reference_cv'])}, holdout "
                     f"{fmt_num(perf['reference_holdout'])}; current: {perf['note']}"])
    return rows


PROD_HEADERS = ["model", "version", "age", "in production since", "approved by", "approved at", "last drift",
                "performance vs reference"]


def _sections(report: dict[str, Any]) -> list[tuple[str, list[str], list[list[Any]]]]:
    runs, appr, ch = report["runs"], report["approvals"], report["changes"]
    change_rows = [["production", f"{m['name']}: {m['from'] or '–'} -> {m['to'] or '–'}"] for m in ch["production"]]
    change_rows += [["new violation", v] for v in ch["new_violations"]]
    change_rows += [["resolved violation", v] for v in ch["resolved_violations"]]
    change_rows += [["new pending request", r] for r in ch["new_pending_approvals"]]
    change_rows.append(["audit entries added", ch["audit_entries_added"]])
    req_headers = ["request", "model", "version", "target", "requester", "created", "expires"]

    def req_rows(rows: list[dict]) -> list[list[Any]]:
        return [[r["id"], r["name"], r["version"], r["target"], r["requester"], iso(r["created_at"]),
                 iso(r["expires_at"])] for r in rows]

    return [
        ("Production models", PROD_HEADERS, _production_rows(report)),
        ("Policy violations", ["rule", "subject", "detail"],
         [[v["rule"], v["subject"], v["detail"]] for v in report["violations"]]),
        ("Runs in the period", ["status", "runs"], [[s, n] for s, n in sorted(runs["by_status"].items())]),
        ("Failed runs", ["run", "experiment", "model", "status", "started", "actor", "error"],
         [[r["id"], r["experiment"], r["model"], r["status"], iso(r["started_at"]), r["actor"],
           (r["error"] or "")[:160]] for r in runs["failures"]]),
        ("Sweeps in the period", ["sweep", "experiment", "status", "started", "done", "failed", "crashed", "best run"],
         [[s["id"], s["experiment"], s["status"], iso(s["started_at"]), s["n_done"], s["n_failed"], s["n_crashed"],
           s["best_run_id"] or "–"] for s in report["sweeps"]]),
        ("Pending approval requests", req_headers, req_rows(appr["pending"])),
        ("Expired approval requests", req_headers, req_rows(appr["expired"])),
        ("Audit trail", ["verified", "entries", "signed", "head", "newest checkpoint", "problem"],
         [["yes" if report["audit"]["ok"] else "NO", report["audit"]["entries"], report["audit"].get("signed", "–"),
           f"entry {report['audit'].get('head_seq', '–')} ({str(report['audit'].get('head_hash', ''))[:12]})",
           _checkpoint(report["audit"].get("last_checkpoint")), report["audit"]["reason"] or "–"]]),
        ("Changes since the last report", ["what", "change"], change_rows),
    ]


def _checkpoint(cp: dict | None) -> str:
    if not cp:
        return "none (`mlplat audit checkpoint`)"
    return f"#{cp['id']}: entry {cp['seq']} ({cp['hash'][:12]}) at {iso(cp['ts'])}"


def _changes_intro(report: dict[str, Any]) -> str:
    prev = report["changes"]["previous_report"]
    return (f"Compared with report #{prev['id']} of {iso(prev['created_at'])}." if prev
            else "First report on this store: everything below is new.")


def to_markdown(report: dict[str, Any]) -> str:
    period = report["period"]
    out = [f"# Governance report — {report['status'].upper()}", "",
           f"Period {iso(period['since'])} to {iso(period['until'])}. {report['summary']}", ""]
    for title, headers, rows in _sections(report):
        out += [f"## {title}", ""]
        if title.startswith("Changes"):
            out += [_changes_intro(report), ""]
        out += [md_table(headers, rows)]
    return "\n".join(out)


def _charts(report: dict[str, Any]) -> list[tuple[str, str]]:
    """Small PNGs as data URIs: runs per day by status, and reference metrics of production models."""
    plt = pyplot()
    charts = []
    per_day = report["runs"]["per_day"]
    if per_day:
        days = sorted({r["day"] for r in per_day})
        statuses = sorted({r["status"] for r in per_day})
        colours = {"done": "#1e8449", "failed": "#c0392b", "crashed": "#7f8c8d", "running": "#2e86c1"}
        fig, ax = plt.subplots(figsize=(5, 2.4))
        bottom = [0] * len(days)
        for s in statuses:
            counts = [sum(r["count"] for r in per_day if r["day"] == d and r["status"] == s) for d in days]
            ax.bar(days, counts, bottom=bottom, label=s, color=colours.get(s, "#999"))
            bottom = [b + c for b, c in zip(bottom, counts, strict=True)]
        ax.set_title("Runs per day", fontsize=9)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=7)
        charts.append(("Runs per day by status", png_data_uri(fig)))
    prod = [p for p in report["production"] if p["performance"]["reference_cv"] is not None]
    if prod:
        fig, ax = plt.subplots(figsize=(5, 0.8 + 0.45 * len(prod)))
        labels = [f"{p['name']}:{p['version']} ({p['performance']['metric']})" for p in prod]
        ys = list(range(len(prod)))
        ax.barh([y + 0.2 for y in ys], [p["performance"]["reference_cv"] for p in prod], height=0.4, label="cv")
        ax.barh([y - 0.2 for y in ys], [p["performance"]["reference_holdout"] or 0 for p in prod], height=0.4,
                label="holdout")
        ax.set_yticks(ys, labels, fontsize=7)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))  # bars span the axes; keep clear
        ax.set_title("Production models: reference metric", fontsize=9)
        charts.append(("Reference metrics of production models", png_data_uri(fig)))
    return charts


def to_html(report: dict[str, Any]) -> str:
    """The report as one self-contained page (template governance_report.html)."""
    period = report["period"]
    sections = [(title, _changes_intro(report) if title.startswith("Changes") else None, headers, rows)
                for title, headers, rows in _sections(report)]
    return pages.render("governance_report.html", title="Governance report", report=report,
                        since=iso(period["since"]), until=iso(period["until"]), charts=_charts(report),
                        sections=sections, generated=None)


def to_json(report: dict[str, Any]) -> str:
    return json.dumps(report, indent=2, default=str) + "\n"


RENDERERS = {"md": to_markdown, "html": to_html, "json": to_json}
