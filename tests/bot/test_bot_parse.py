"""Chat text is never code: every refused override form, the allow-list, tokens at startup."""

from __future__ import annotations

import pytest
from mlplat_bot import parse
from mlplat_bot.settings import token, tokens_for

from mlplat.config.compose import group_options
from mlplat.errors import BotError

ALLOW = {"groups": ["experiment", "sweep", "model", "evaluation", "dataset", "features"],
         "params": {"seed": [0, 100], "model.params.n_estimators": [1, 2000], "model.params.max_features": ["sqrt"],
                    "model.classifier_params.C": [0.0001, 10000]},
         "max_sweep_jobs": 20}


def check(*tokens: str) -> list[str]:
    return parse.check_overrides(list(tokens), ALLOW, group_options=group_options)


@pytest.mark.parametrize(("token", "reason"), [
    ("-m", "starting with `-`"),
    ("--cfg=job", "starting with `-`"),
    ("model@foo=logreg", "package overrides"),
    ("~model", "deletions"),
    ("~model=logreg", "deletions"),
    ("++seed=3", "force-adds"),
    ("+model.params.foo=1", "adding keys"),
    ("+tracking.url=sqlite:///x.db", "storage, deployment"),
    ("+seed_extra=1", "adding keys"),
    ("hydra.run.dir=/tmp/x", "`hydra*` keys"),
    ("hydra/launcher=joblib", "`hydra*` keys"),
    ("hydra_extra=1", "`hydra*` keys"),
    ("model._target_=os.system", "`_target_`"),
    ("model.params._partial_=true", "`_partial_`"),
    ("model.params._args_=1", "`_args_`"),
    ("model._recursive_=false", "`_recursive_`"),
    ("model._convert_=all", "`_convert_`"),
    ("model.params.max_features=/etc/passwd", "paths"),
    ("model.params.max_features=../secrets", "paths"),
    ("tracking.url=sqlite:////tmp/other.db", "storage, deployment"),
    ("tracking.artifacts=x", "storage, deployment"),
    ("registry.roles.ml-lead=[me]", "storage, deployment"),
    ("serving.port=1", "storage, deployment"),
    ("seed=${oc.env:SLACK_BOT_TOKEN}", "interpolations"),
    ("model.params.max_features=${now:}", "interpolations"),
    ("model.params.n_estimators={a:1}", "dict values"),
    ("model.params.n_estimators=[1,2]", "list values"),
    ("model=glob(*)", "`glob()`"),
    ("model.params.n_estimators=5000", "must be in [1, 2000]"),
    ("model.params.n_estimators=0,10", "must be in [1, 2000]"),
    ("model.params.n_estimators=interval(1,9999)", "must be in [1, 2000]"),
    ("model.params.n_estimators=abc", "must be a number"),
    ("model.params.max_features=log2", "must be one of sqrt"),
    ("model=nonexistent", "not an option of model"),
    ("model=logreg,nonexistent", "not an option of model"),
    ("dataset.path=data.csv", "not on the chat allow-list"),
    ("runtime.threads=64", "storage, deployment"),
    ("launcher=ray", "storage, deployment"),
    ("seed", "expected key=value"),
    ("model='unclosed", "not a valid override"),
])
def test_each_refused_form_is_refused_with_its_reason(token, reason):
    with pytest.raises(parse.Refused) as err:
        check(token)
    assert reason in str(err.value) and token in str(err.value)


def test_allowed_overrides_pass_unchanged():
    tokens = ["experiment=demo", "model=random_forest,logreg", "+model.params.n_estimators=10",
              "model.params.n_estimators=range(1,5)", "seed=3", "model.params.max_features=sqrt",
              "model.classifier_params.C=interval(0.1,10)"]
    assert check(*tokens) == tokens


def test_unbalanced_quotes_and_empty_text():
    with pytest.raises(parse.Refused, match="close the quotes"):
        parse.split('run demo seed="3')
    assert parse.split("").name == "help"
    assert parse.split("RUN demo 'model=logreg'").args == ["demo", "model=logreg"]


def test_sweep_cap_counts_the_product_of_values():
    assert parse.check_sweep_size(["model=logreg,knn", "seed=1,2,3"], 6) == 6
    with pytest.raises(parse.Refused, match="runs 7 jobs, more than the 6 allowed"):
        parse.check_sweep_size(["seed=range(0,7)"], 6)


@pytest.mark.parametrize(("env", "message"), [
    ({}, "SLACK_BOT_TOKEN is not set"),
    ({"SLACK_BOT_TOKEN": "xoxp-user-token"}, "SLACK_BOT_TOKEN is malformed: it must start with 'xoxb-'"),
    ({"SLACK_BOT_TOKEN": "xoxb-1 2"}, "SLACK_BOT_TOKEN contains whitespace"),
    ({"SLACK_BOT_TOKEN": "xoxb-1"}, "SLACK_APP_TOKEN is not set"),
    ({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xoxb-2"}, "SLACK_APP_TOKEN is malformed: it must start with 'xapp-'"),
])
def test_socket_mode_tokens_are_checked(env, message):
    with pytest.raises(BotError, match=message):
        tokens_for("socket", env)


def test_http_mode_needs_the_signing_secret():
    with pytest.raises(BotError, match="SLACK_SIGNING_SECRET is not set"):
        tokens_for("http", {"SLACK_BOT_TOKEN": "xoxb-1"})
    assert tokens_for("http", {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "abc"})["signing_secret"] == "abc"
    assert token("SLACK_APP_TOKEN", {"SLACK_APP_TOKEN": "xapp-1-A"}) == "xapp-1-A"
