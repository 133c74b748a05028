"""The beat_champion gate is strict: a tie with the champion (plus the margin) does not beat it,
in the metric's own direction (scores up, losses down)."""

from __future__ import annotations

import pytest

from mlplat.registry.policy import evaluate

DATA = {"dataset_fingerprint": "fp", "seed": 0, "test_size": 0.2}


def _gate(metric: str, cand: float, champ: float, margin: float) -> dict:
    candidate = {"version": 2, "primary_metric": metric, "metrics": {"holdout": {metric: cand}}, **DATA}
    champion = {"version": 1, "primary_metric": metric, "metrics": {"holdout": {metric: champ}}, **DATA}
    gates = {"run_completed": False, "validation_passed": False,
             "beat_champion": {"metric": metric, "margin": margin}}
    (result,) = evaluate(gates, candidate, {"status": "done"}, champion)
    return result


@pytest.mark.parametrize(("metric", "cand", "champ", "margin", "status"), [
    ("roc_auc", 0.9486, 0.9486, 0.0, "fail"),     # equal does not beat
    ("roc_auc", 0.9487, 0.9486, 0.0, "pass"),
    ("roc_auc", 0.9500, 0.9486, 0.01, "fail"),    # better, but not by the margin
    ("roc_auc", 0.9600, 0.9486, 0.01, "pass"),
    ("log_loss", 0.30, 0.30, 0.0, "fail"),         # a loss: equal does not beat either
    ("log_loss", 0.29, 0.30, 0.0, "pass"),
    ("log_loss", 0.31, 0.30, 0.0, "fail"),
])
def test_beat_champion_is_strict_in_the_metric_direction(metric, cand, champ, margin, status):
    gate = _gate(metric, cand, champ, margin)
    assert gate["status"] == status, gate["detail"]
    assert ("(beats it)" in gate["detail"]) == (status == "pass")
