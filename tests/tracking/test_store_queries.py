"""Leaderboard, listings and sweep trials: ranking, direction, ties, filters, pagination.

Expected answers are computed independently in Python from the same generated runs.
"""

from __future__ import annotations

import pytest
from store_helpers import T0, record, result, start

from mlplat.errors import ConfigError
from mlplat.tracking import runs


def _expected(data, metric, *, higher, **filters):
    rows = [d for d in data if all(d[k] == v for k, v in filters.items())]
    return [d["id"] for d in sorted(rows, key=lambda d: ((-d[metric] if higher else d[metric]), d["started_at"], d["id"]))]


@pytest.mark.parametrize("metric,higher", [("roc_auc", True), ("log_loss", False)])
def test_leaderboard_ranks_in_the_metric_direction_with_ties_broken_by_start_then_id(populated, metric, higher):
    store, data = populated
    got = runs.leaderboard(store, metric=metric, top=len(data))
    assert [r["id"] for r in got] == _expected(data, metric, higher=higher)
    assert [r["rank"] for r in got] == list(range(1, len(data) + 1))
    assert got[0]["direction"] == ("maximize" if higher else "minimize")


@pytest.mark.parametrize("filters", [
    {"dataset": "wage"}, {"dataset": "wage", "model": "knn"}, {"experiment": "b", "model": "logreg"},
    {"sweep_id": "sw2"}, {"sweep_id": "sw1", "dataset": "iris", "experiment": "a"},
])
def test_leaderboard_filters_match_an_independent_computation(populated, filters):
    store, data = populated
    got = runs.leaderboard(store, metric="roc_auc", filters={**filters, "status": "done"}, top=10)
    assert [r["id"] for r in got] == _expected(data, "roc_auc", higher=True, **filters)[:10]
    assert got and all(r[k] == v for r in got for k, v in filters.items())


def test_leaderboard_since_and_offset(populated):
    store, data = populated
    since = T0 + 500
    got = runs.leaderboard(store, metric="roc_auc", since=since, top=5, offset=5)
    expected = _expected([d for d in data if d["started_at"] >= since], "roc_auc", higher=True)
    assert [r["id"] for r in got] == expected[5:10]
    assert [r["rank"] for r in got] == [6, 7, 8, 9, 10]


def test_status_changes_reach_the_leaderboard(store):
    runs.record_runs_batch(store, [record("r_ok", {"roc_auc": 0.8}, started_at=T0),
                                   record("r_bad", {"roc_auc": 0.9}, started_at=T0 + 1)])
    runs.fail_run(store, "r_bad", "broken after scoring", actor="t", source="test")
    assert [r["id"] for r in runs.leaderboard(store, metric="roc_auc", filters={"status": "done"})] == ["r_ok"]
    assert [r["id"] for r in runs.leaderboard(store, metric="roc_auc", filters={"status": "failed"})] == ["r_bad"]


def test_crashed_runs_of_an_invocation_are_marked(store):
    s = start("r_run")
    s.invocation_id = "inv1"
    runs.start_run(store, s)
    assert runs.mark_crashed(store, "inv1") == 1
    assert runs.get_run(store, "r_run")["status"] == "crashed"


def test_per_run_path_records_metrics_with_filter_columns(store):
    runs.start_run(store, start("r1", dataset="wage", model="xgboost", sweep_id="s1", job_num=0))
    runs.finish_run(store, "r1", result({"rmse": 3.0}), actor="t", source="test")
    got = runs.leaderboard(store, metric="rmse", filters={"dataset": "wage", "model": "xgboost", "sweep_id": "s1",
                                                          "status": "done", "experiment": "exp"})
    assert [(r["id"], r["value"], r["holdout"]) for r in got] == [("r1", 3.0, 3.0)]


def test_pages_cover_every_run_once_in_newest_first_order(populated):
    store, data = populated
    expected = [d["id"] for d in sorted(data, key=lambda d: (d["started_at"], d["id"]), reverse=True)]
    pages, page = [], 1
    while rows := runs.list_runs(store, page=page, page_size=7):
        pages += [r["id"] for r in rows]
        page += 1
    assert pages == expected  # no duplicates, no gaps, ties on started_at ordered by id
    assert [r["id"] for r in runs.iter_runs(store, batch=8)] == expected
    assert runs.list_runs(store, page=1000, page_size=7) == []


def test_filtered_listing_and_lineage_lookup(populated):
    store, data = populated
    got = [r["id"] for r in runs.list_runs(store, filters={"model": "knn", "dataset": "adult"}, page_size=100)]
    assert got == [d["id"] for d in sorted(data, key=lambda d: (d["started_at"], d["id"]), reverse=True)
                   if d["model"] == "knn" and d["dataset"] == "adult"]
    assert len(runs.list_runs(store, filters={"dataset_fingerprint": "f0"}, page_size=1000)) == len(data)
    assert runs.list_runs(store, filters={"dataset_fingerprint": "other"}) == []


def test_sweep_trials_page_in_job_order(populated):
    store, data = populated
    expected = [d["id"] for d in sorted((d for d in data if d["sweep_id"] == "sw3"), key=lambda d: d["job_num"])]
    first = runs.sweep_trials(store, "sw3", page=1, page_size=10)
    rest = runs.sweep_trials(store, "sw3", page=2, page_size=10) + runs.sweep_trials(store, "sw3", page=3, page_size=10)
    assert [r["id"] for r in first + rest] == expected
    assert runs.sweep_trials(store, "sw3", page=50, page_size=10) == []


def test_bad_input_is_refused_with_the_allowed_values(store):
    with pytest.raises(ConfigError, match="unknown filter field 'colour'.*experiment, sweep_id"):
        runs.list_runs(store, filters={"colour": "red"})
    with pytest.raises(ConfigError, match="unknown filter field 'colour'.*status, dataset_fingerprint"):
        runs.leaderboard(store, metric="roc_auc", filters={"colour": "f0"})
    with pytest.raises(ConfigError, match="unknown metric 'auc'.*roc_auc"):
        runs.leaderboard(store, metric="auc")
    with pytest.raises(ConfigError, match="page and page size"):
        runs.list_runs(store, page=0)
