"""Listings that do what they say: `leaderboard --filter dataset_fingerprint=...` (the example its
help shows), and a sweep id given as the unique prefix the tables show, on both read paths."""

from __future__ import annotations

import pytest
from store_helpers import T0, record

from mlplat import ops
from mlplat.errors import ConfigError, NotFound
from mlplat.tracking import runs


@pytest.fixture
def two_sweeps(store):
    for sweep_id in ("abcd1111aaaa0000", "abcd2222bbbb0000"):
        runs.create_sweep(store, sweep_id, command="mlplat train -m", actor="t", source="test", experiment="exp")
    runs.record_runs_batch(store, [
        record("r1", {"roc_auc": 0.9}, started_at=T0, sweep_id="abcd1111aaaa0000", fingerprint="fpA"),
        record("r2", {"roc_auc": 0.8}, started_at=T0 + 1, sweep_id="abcd1111aaaa0000", fingerprint="fpB"),
        record("r3", {"roc_auc": 0.7}, started_at=T0 + 2, sweep_id="abcd2222bbbb0000", fingerprint="fpA"),
    ])
    return store


@pytest.mark.parametrize("path", ["store", "direct"])
def test_leaderboard_filters_on_the_data_fingerprint(two_sweeps, path):
    where = {"store": two_sweeps} if path == "store" else {"url": two_sweeps.url}
    board = ops.leaderboard(filters={"dataset_fingerprint": "fpA"}, **where)
    assert [r["id"] for r in board["rows"]] == ["r1", "r3"]
    with pytest.raises(ConfigError, match="unknown filter field 'colour'"):
        ops.leaderboard(filters={"colour": "red"}, **where)


@pytest.mark.parametrize("path", ["store", "direct"])
def test_a_sweep_is_found_by_a_unique_prefix_and_an_ambiguous_one_is_one_line(two_sweeps, path):
    where = {"store": two_sweeps} if path == "store" else {"url": two_sweeps.url}
    assert [r["id"] for r in ops.leaderboard(filters={"sweep_id": "abcd1111"}, **where)["rows"]] == ["r1", "r2"]
    assert [r["id"] for r in ops.list_runs(filters={"sweep_id": "abcd2"}, **where)] == ["r3"]
    assert [r["id"] for r in ops.leaderboard(filters={"sweep_id": "abcd2222bbbb0000"}, **where)["rows"]] == ["r3"]
    with pytest.raises(NotFound, match=r"^sweep id prefix 'abcd' is ambiguous \(abcd1111aaaa0000, abcd2222bbbb0000"):
        ops.leaderboard(filters={"sweep_id": "abcd"}, **where)
    assert ops.leaderboard(filters={"sweep_id": "ffff"}, **where)["rows"] == []
