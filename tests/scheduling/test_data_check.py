"""The scheduled `data_check` job: a declared dataset's fresh extract against its schema and the last accepted one."""

from __future__ import annotations

import json

import pandas as pd
from sched_kit import REPO


def test_scheduled_data_check_accepts_then_alerts_on_drift_and_on_a_broken_schema(sched, recorder):
    from mlplat.scheduling.runner import execute, list_jobs

    df = pd.read_csv(REPO / "data" / "churn.csv")
    extract = sched.root / "extract.csv"
    sched.write_schedule({"nightly_churn": {"type": "data_check", "trigger": {"cron": "0 2 * * *"},
                                            "params": {"dataset": "churn", "current": str(extract),
                                                       "state_dir": str(sched.root / "checks")}}})
    df.sample(1500, random_state=1).to_csv(extract, index=False)
    first = execute("nightly_churn", manual=True)
    assert first["status"] == "ok" and "first" in first["summary"] and not recorder.events
    assert (sched.root / "checks" / "churn.accepted.json").is_file()

    drifted = df.sample(1500, random_state=2)
    drifted["monthly_charges"] = drifted["monthly_charges"] * 1.6
    drifted.to_csv(extract, index=False)
    second = execute("nightly_churn", manual=True)
    assert "drift" in second["summary"]
    event = recorder.events[-1]
    assert (event["kind"], event["status"]) == ("data_check", "warn") and "monthly_charges" in event["text"]

    broken = df.sample(1500, random_state=3)
    broken.loc[broken.index[:20], "contract"] = "weekly"
    broken.to_csv(extract, index=False)
    execute("nightly_churn", manual=True)
    event = recorder.events[-1]
    assert (event["kind"], event["status"]) == ("data_check", "error")
    assert "'contract' has 20 rows outside the allowed values" in event["text"]
    # the reference stays the last accepted extract: the first one
    state = json.loads((sched.root / "checks" / "churn.accepted.json").read_text())
    assert state["data_profile"]["n_rows"] == 1500

    sched.write_schedule({"bad": {"type": "data_check", "trigger": {"every": "1h"}, "params": {"dataset": "nope"}}})
    jobs = list_jobs()
    assert any("dataset='nope' must name a dataset config" in str(j) for j in jobs)
