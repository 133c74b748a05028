"""The chat allow-list is an ops rule: it holds without the bot, for any untrusted front door."""

from __future__ import annotations

import pytest

from mlplat import ops
from mlplat.errors import OverrideRefused

ALLOW = {"groups": ["model", "dataset"], "params": {"model.params.n_estimators": [1, 500]}}


@pytest.mark.parametrize("token", [
    "-m", "~model", "++foo=1", "model@pkg=xgboost", "hydra.run.dir=/tmp", "model._target_=os.system",
    "tracking.url=sqlite:////etc/x.db", "seed=${oc.env:HOME}", "model.params.n_estimators=501",
    "model.params.n_estimators=abc", "model=nope", "dataset=glob(*)", "+model.params.max_depth=3",
    "model.params.n_estimators={a:1}", "evaluation.cv.folds=2",
])
def test_refused(token):
    with pytest.raises(OverrideRefused):
        ops.check_untrusted_overrides([token], ALLOW)


def test_allowed_values_pass():
    tokens = ["model=xgboost", "dataset=wine,diabetes", "model.params.n_estimators=10,200"]
    assert ops.check_untrusted_overrides(tokens, ALLOW) == tokens
