"""What the report says when the candidate's data is not the champion's: the differences and the drift."""

from __future__ import annotations

import dataclasses
import json

import pandas as pd
from repo_kit import REPO

from mlplat.ci import report
from mlplat.monitoring.profile import build_profile
from mlplat.ops import ci
from mlplat.ops.common import compose_plain
from mlplat.tracking import artifacts as art


def test_changed_data_is_named_and_its_drift_summarised(tmp_path):
    plain = compose_plain(["dataset=churn"])
    dataset = plain["dataset"]
    original = pd.read_csv(REPO / "data" / "churn.csv")
    features = original.drop(columns=["churned", "customer_id"])
    written = art.write_json(tmp_path / "champ", "profile.json", build_profile(
        features, numeric=["tenure_months", "monthly_charges", "support_calls"], categorical=["contract", "region"]),
        compact=True)
    champ_run = {"id": "champ", "artifacts": [{"name": "profile.json", **dataclasses.asdict(written)}],
                 "dataset_fingerprint": "aaaa", "config": {"seed": 42, "evaluation": {"test_size": 0.2},
                                                           "dataset": {"name": "churn"}}}
    shifted = original.assign(tenure_months=(original["tenure_months"] + 40).clip(upper=120))
    shifted.to_csv(tmp_path / "churn.csv", index=False)
    plain["dataset"] = {**dataset, "path": str(tmp_path / "churn.csv")}
    drift = ci._drift(plain, champ_run, None)
    # one feature of five drifted: below the dataset share (0.5), so the verdict is warn
    assert (drift["status"], drift["n_drifted"], drift["n_checked"]) == ("warn", 1, 5)
    assert (drift["worst"][0]["name"], drift["worst"][0]["status"]) == ("tenure_months", "drift")
    cand_run = {"dataset_fingerprint": "bbbb", "config": {"seed": 7, "evaluation": {"test_size": 0.2},
                                                         "dataset": {"name": "churn"}}}
    diffs = ci._differences(cand_run, champ_run)
    assert diffs == ["dataset fingerprint aaaa -> bbbb (the data changed)", "seed 42 -> 7"]
    # the same data: no drift check, nothing differs
    assert ci._differences(champ_run, champ_run) == []
    # and the markdown report carries both
    exp = {"experiment": "x", "model": "m", "target": "production", "verdict": "review", "error": None,
           "summary": "x -> m: not comparable", "run_id": "r1", "champion": {"version": 1, "run_id": "champ",
                                                                            "fingerprint": "aaaa"},
           "comparable": False, "differences": diffs, "metrics": [], "gates": [], "drift": drift,
           "fingerprint": "bbbb", "config_diff": ["# conf/x.yaml", "+a: 1"]}
    result = {"experiments": [exp], "verdict": "review", "target": "production", "commit": "c" * 40,
                          "base": None, "base_ref": None, "pr": {"url": None}, "changed_files": [],
                          "unmapped_files": []}
    text = report.render(result, "md")
    assert "**Not like-for-like:** dataset fingerprint aaaa -> bbbb (the data changed); seed 42 -> 7" in text
    assert "against the production reference:** warn, 1/5 features drifted (worst: tenure_months drift" in text
    assert "was `aaaa`" in text and "+a: 1" in text
    as_json = json.loads(report.render(result, "json"))
    assert as_json["experiments"][0]["drift"]["worst"][0]["name"] == "tenure_months"
