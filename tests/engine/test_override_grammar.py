"""Hydra's override grammar as every door reads it: jobs counted without expanding, sweep values
refused in a single run (CLI, API and chat alike), chat text checked in bounded time."""

from __future__ import annotations

import time

import pytest
from hydra.core.override_parser.types import FloatRange

from mlplat.config import overrides as grammar
from mlplat.errors import ConfigError, OverrideRefused
from mlplat.ops.untrusted import check_untrusted_overrides

ALLOW = {"groups": ["model"], "params": {"seed": [0, 2147483647], "model.classifier_params.C": [0.0001, 10000]}}


def _options(group: str) -> list[str]:
    return ["knn", "logreg", "random_forest"]


@pytest.mark.parametrize(("text", "jobs"), [
    ("seed=range(0,2147483647)", 2147483647),
    ("seed=range(10)", 10),
    ("seed=range(10,0,-3)", 4),
    ("x=range(0,1,0.1)", 10),
    ("x=range(1,0,-0.25)", 4),
    ("x=range(0.5,0.5,0.1)", 0),
    ("seed=1,2,3", 3),
    ("seed=choice(1,2)", 2),
    ("seed=shuffle(range(0,2147483647))", 2147483647),
    ("model=glob(*o*)", 2),
])
def test_jobs_are_counted_without_expanding(text, jobs):
    t0 = time.perf_counter()
    (o,) = grammar.parse([text])
    assert grammar.count_jobs([o], _options) == jobs
    assert time.perf_counter() - t0 < 0.5
    value = o.value()
    if hasattr(value, "range") and jobs < 1000:  # small ranges: the same count as Hydra's own listing
        assert len(list(value.range())) == jobs if not isinstance(value.range(), FloatRange) else True
        assert len(list(o.sweep_iterator())) == jobs


def test_a_grid_is_the_product_and_an_interval_cannot_be_counted():
    parsed = grammar.parse(["seed=range(0,100000)", "model=knn,logreg", "x=range(0,1,0.5)", "evaluation=fast"])
    assert grammar.count_jobs(parsed, _options) == 400000
    assert grammar.count_jobs(grammar.parse(["x=interval(0,1)"])) is None


@pytest.mark.parametrize("text", ["seed=1,2", "seed=choice(1,2)", "seed=range(3)", "x=interval(0.1,0.5)",
                                  "model=glob(*)", "x=tag(log,interval(1,2))", "x=shuffle(1,2)"])
def test_a_single_run_refuses_every_sweep_value(text):
    with pytest.raises(ConfigError, match="a single run takes one value per key"):
        grammar.refuse_sweeps_in_run(grammar.parse([text]))
    grammar.refuse_sweeps_in_run(grammar.parse(["seed=3", "model=knn", "x=[1,2]"]))  # plain values pass


def test_chat_run_refuses_an_interval_like_the_cli():
    with pytest.raises(OverrideRefused, match=r"interval.*a single run takes one value per key"):
        check_untrusted_overrides(["model.classifier_params.C=interval(0.1,0.5)"], ALLOW, group_options=_options,
                                  single_run=True)


def test_the_hostile_range_is_checked_in_bounded_time():
    t0 = time.perf_counter()
    tokens = check_untrusted_overrides(["seed=range(0,2147483647)"], ALLOW, group_options=_options)
    assert grammar.count_jobs(grammar.parse(tokens), _options) == 2147483647
    assert time.perf_counter() - t0 < 0.5  # was 56 s and 2 GB for 30 M values
    with pytest.raises(OverrideRefused, match=r"seed must be in \[0, 2147483647\], got 2147483648"):
        check_untrusted_overrides(["seed=range(0,2147483649)"], ALLOW, group_options=_options)
    with pytest.raises(OverrideRefused, match="at most 64 overrides and 4000 characters"):
        check_untrusted_overrides(["seed=" + ",".join(["1"] * 3000)], ALLOW, group_options=_options)
