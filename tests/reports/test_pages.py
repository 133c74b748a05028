"""Every HTML page mlplat writes (governance report, model card, drift report, leaderboard)
renders from a template extending base.html: one stylesheet, and hostile text escaped."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from mlplat.governance import card, report_format
from mlplat.monitoring import build_profile, check_drift
from mlplat.monitoring.report import to_html as drift_html
from mlplat.reports import charts
from mlplat.reports.html import TEMPLATES

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>&\''
ESCAPED = "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;&amp;&#39;"


def _governance_report() -> dict:
    return {
        "status": "warn", "summary": HOSTILE, "period": {"since": 0.0, "until": 86400.0},
        "production": [{"name": HOSTILE, "version": 1, "age_days": 1.0, "in_production_since": 0.0,
                        "approval": {"approvers": [{"approver": HOSTILE, "ts": 0.0}]}, "drift": {"text": HOSTILE},
                        "performance": {"metric": "roc_auc", "reference_cv": 0.9, "reference_holdout": 0.8,
                                        "note": HOSTILE}}],
        "violations": [{"rule": HOSTILE, "subject": HOSTILE, "detail": HOSTILE}],
        "runs": {"total": 1, "by_status": {"failed": 1}, "per_day": [{"day": "2026-01-01", "status": "failed", "count": 1}],
                 "failures": [{"id": HOSTILE, "experiment": HOSTILE, "model": HOSTILE, "status": "failed",
                               "started_at": 0.0, "actor": HOSTILE, "error": HOSTILE}]},
        "sweeps": [], "approvals": {"pending": [], "expired": []},
        "audit": {"ok": True, "entries": 3, "reason": None},
        "changes": {"previous_report": None, "production": [], "new_violations": [HOSTILE], "resolved_violations": [],
                    "new_pending_approvals": [], "audit_entries_added": 3},
    }


def _card() -> dict:
    return {
        "model": f"{HOSTILE}:1", "aliases": [HOSTILE], "description": HOSTILE, "registered_at": 0.0,
        "registered_by": HOSTILE, "run_id": HOSTILE, "task": "classification", "primary_metric": "roc_auc",
        "data": {"dataset": HOSTILE, "description": HOSTILE, "source": "csv", "target": HOSTILE, "fingerprint": "ab",
                 "validation_passed": True, "test_size": 0.2, "seed": 0, "cv_folds": 3},
        "features": {"set": HOSTILE, "inputs": [{"name": HOSTILE, "dtype": "float64"}], "preprocessing": {}},
        "algorithm": {"name": HOSTILE, "estimator": HOSTILE, "params": {HOSTILE: HOSTILE}, "tuned_params": {}},
        "metrics": [{"metric": "roc_auc", "cv_mean": 0.9, "min": 0.8, "max": 1.0, "std": 0.1, "holdout": 0.85}],
        "champion": {"note": HOSTILE}, "reference_profile": None,
        "approvals": [{"request": HOSTILE, "target": "production", "status": "approved", "requester": HOSTILE,
                       "approvers": [HOSTILE], "decided_at": 0.0}],
        "lineage": {"config_hash": HOSTILE, "code_version": HOSTILE, "model_sha256": HOSTILE, "audit_agrees": True},
        "intended_use": HOSTILE, "limitations": HOSTILE,
    }


def _drift() -> str:
    rng = np.random.default_rng(0)
    n = 400
    ref = pd.DataFrame({HOSTILE: rng.normal(size=n), "plan": rng.choice(["a", "b"], n)})
    cur = pd.DataFrame({HOSTILE: rng.normal(1.0, size=n), "plan": rng.choice(["a", HOSTILE], n)})
    profile = build_profile(ref, numeric=[HOSTILE], categorical=["plan"])
    result = check_drift(json.loads(json.dumps(profile)), cur)
    return drift_html(result, title=f"Drift of {HOSTILE}")


def _leaderboard() -> str:
    rows = [{"rank": 1, "id": HOSTILE, "model": HOSTILE, "dataset": HOSTILE, "value": 0.9, "std": 0.01,
             "holdout": 0.88, "sweep_id": HOSTILE}]
    return charts.leaderboard_html(rows, "roc_auc", "maximize", title=f"Leaderboard {HOSTILE}").decode()


PAGES = {
    "governance report": lambda: report_format.to_html(_governance_report()),
    "model card": lambda: card.to_html(_card()),
    "drift report": _drift,
    "leaderboard": _leaderboard,
}


@pytest.mark.parametrize("name", PAGES)
def test_hostile_text_is_escaped_and_the_page_is_one_product(name: str):
    page = PAGES[name]()
    assert "<script>" not in page and "onerror=alert(1)>" not in page
    assert ESCAPED in page  # the text is there, escaped, not dropped
    assert page.lower().startswith("<!doctype html>")
    stylesheet = (TEMPLATES / "style.css").read_text().strip()
    assert stylesheet in page  # the one stylesheet, inlined
    assert "<footer>mlplat" in page
    assert "http://" not in page and "https://" not in page  # self-contained: no other host


def test_the_drift_report_draws_one_chart_per_checked_feature():
    page = _drift()
    assert page.count("<svg") == 2 and page.count("<rect") > 4
