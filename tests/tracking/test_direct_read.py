"""The direct read path (bare DB-API driver, no SQLAlchemy) gives the Store's rows or nothing.

`mlplat leaderboard` reads through mlplat.tracking.direct when it can; these tests hold it to
the Store's answers on both databases and check it stands aside whenever it is not certain.
"""

from __future__ import annotations

import os
import subprocess
import sys
from functools import partial
from pathlib import Path

import pytest
from store_helpers import T0, record
from test_store_queries import _expected

from mlplat import ops
from mlplat.errors import ConfigError, NotFound
from mlplat.tracking import direct, queries, runs
from mlplat.tracking.store import Store

CASES = [
    dict(metric="roc_auc", filters=None, since=None, top=90),
    dict(metric="log_loss", filters=None, since=None, top=90),
    dict(metric="roc_auc", filters={"dataset": "wage", "model": "knn", "status": "done"}, since=None, top=10),
    dict(metric="log_loss", filters={"experiment": "b", "sweep_id": "sw1"}, since=T0 + 500, top=7),
    dict(metric="roc_auc", filters={"dataset": "nowhere"}, since=None, top=10),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c['metric']}-{c['filters']}-{c['since']}")
def test_direct_rows_equal_the_stores_and_an_independent_ranking(populated, case):
    store, data = populated
    via_store = ops.leaderboard(store=store, **case)
    via_direct = ops.leaderboard(url=store.url, **case)
    raw = direct.read_rows(store.url, partial(queries.leaderboard, metric=case["metric"],
                                              greater_is_better=case["metric"] == "roc_auc",
                                              filters=case["filters"], since=case["since"], top=case["top"]))
    assert raw is not None, "the direct path stood aside on a current store"
    assert via_direct == via_store
    assert [r["id"] for r in raw] == [r["id"] for r in via_store["rows"]]
    kept = [d for d in data if case["since"] is None or d["started_at"] >= case["since"]]
    filters = {k: v for k, v in (case["filters"] or {}).items() if k != "status"}
    expected = _expected(kept, case["metric"], higher=case["metric"] == "roc_auc", **filters)[:case["top"]]
    assert [r["id"] for r in via_direct["rows"]] == expected
    assert [r["rank"] for r in via_direct["rows"]] == list(range(1, len(expected) + 1))


def test_bad_input_is_refused_before_connecting(store):
    with pytest.raises(ConfigError, match="unknown filter field 'colour'"):
        ops.leaderboard(url=store.url, filters={"colour": "f0"})
    with pytest.raises(ConfigError, match="roc_auc"):
        ops.leaderboard(url=store.url, metric="auc")


def test_stands_aside_and_creates_nothing_for_a_missing_sqlite_file(tmp_path: Path):
    query = partial(queries.leaderboard, metric="roc_auc", greater_is_better=True)
    missing = tmp_path / "no" / "store.db"
    assert direct.read_rows(f"sqlite:///{missing}", query) is None
    assert not missing.parent.exists()
    assert direct.read_rows("sqlite://", query) is None  # in-memory: the Store's business
    assert direct.read_rows("mysql://u@127.0.0.1/db", query) is None
    assert direct.read_rows("not a url", query) is None


def test_a_direct_read_leaves_a_sqlite_store_byte_for_byte_unchanged(tmp_path: Path):
    url = f"sqlite:///{tmp_path}/mlplat.db"
    store = Store.open(url, tmp_path / "artifacts")
    runs.record_runs_batch(store, [record("r1", {"roc_auc": 0.8}, started_at=T0)])
    store.close()  # the last connection checkpoints the WAL: the file alone holds the store
    before = (tmp_path / "mlplat.db").read_bytes()
    rows = direct.read_rows(url, partial(queries.leaderboard, metric="roc_auc", greater_is_better=True))
    assert [r["id"] for r in rows] == ["r1"]
    assert (tmp_path / "mlplat.db").read_bytes() == before


def test_the_leaderboard_command_path_never_imports_sqlalchemy(populated):
    """The point of the path: a one-shot leaderboard pays for the driver only."""
    store, data = populated
    code = ("import sys; from mlplat import ops; "
            f"board = ops.leaderboard(url={store.url!r}, top=3); "
            "print(len(board['rows']), 'sqlalchemy' in sys.modules, 'psycopg' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "MLPLAT_NO_DIRECT_READ": ""}).stdout.split()
    assert out == ["3", "False", "False"]


LIST_CASES = [
    dict(filters=None, since=None, page=1, page_size=20),
    dict(filters=None, since=None, page=3, page_size=25),
    dict(filters={"dataset": "wage", "status": "done"}, since=T0 + 300, page=2, page_size=7),
    dict(filters={"sweep_id": "sw3", "dataset_fingerprint": "f0"}, since=None, page=1, page_size=100),
    dict(filters=None, since=None, page=99, page_size=50),  # past the end: empty, not an error
]


@pytest.mark.parametrize("case", LIST_CASES, ids=lambda c: f"{c['filters']}-p{c['page']}x{c['page_size']}")
def test_direct_run_pages_equal_the_stores_and_an_independent_order(populated, case):
    store, data = populated
    via_store = ops.list_runs(store=store, **case)
    via_direct = ops.list_runs(url=store.url, **case)
    raw = direct.read_rows(store.url, partial(queries.list_runs, filters=case["filters"], since=case["since"],
                                              limit=case["page_size"], offset=(case["page"] - 1) * case["page_size"]))
    assert raw is not None and via_direct == via_store == raw
    keep = {k: v for k, v in (case["filters"] or {}).items() if k in ("dataset", "sweep_id")}
    newest = sorted((d for d in data if all(d[k] == v for k, v in keep.items())
                     and (case["since"] is None or d["started_at"] >= case["since"])),
                    key=lambda d: (d["started_at"], d["id"]), reverse=True)
    start = (case["page"] - 1) * case["page_size"]
    assert [r["id"] for r in via_direct] == [d["id"] for d in newest[start:start + case["page_size"]]]


def test_every_page_of_the_direct_listing_together_is_every_run_once(populated):
    store, data = populated
    seen = [r["id"] for page in range(1, 6) for r in ops.list_runs(url=store.url, page=page, page_size=20)]
    assert len(seen) == len(set(seen)) == len(data)


def test_the_model_listing_is_the_same_on_both_paths_and_imports_no_sqlalchemy(store):
    """`mlplat models list` reads over the driver: the same models, latest versions and aliases as the Store."""
    from mlplat.registry.schema import model_aliases, registered_models

    with store.write() as conn:
        conn.execute(registered_models.insert(), [{"name": "wage", "created_at": T0 + 2, "latest_version": 1},
                                                  {"name": "churn", "created_at": T0 + 1, "latest_version": 3}])
        conn.execute(model_aliases.insert(), [
            {"name": "churn", "alias": "production", "version": 2, "updated_at": T0 + 5, "actor": "ana"},
            {"name": "churn", "alias": "challenger", "version": 3, "updated_at": T0 + 6, "actor": "ana"}])
    via_direct = ops.list_models(url=store.url)
    assert via_direct == ops.list_models(store=store) == [
        {"name": "churn", "created_at": T0 + 1, "latest_version": 3, "aliases": {"challenger": 3, "production": 2}},
        {"name": "wage", "created_at": T0 + 2, "latest_version": 1, "aliases": {}}]
    assert direct.read_rows(store.url, queries.registered_models) is not None  # not the Store's fallback
    code = (f"import sys; from mlplat import ops; ms = ops.list_models(url={store.url!r}); "
            "print(len(ms), 'sqlalchemy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "MLPLAT_NO_DIRECT_READ": ""}).stdout.split()
    assert out == ["2", "False"]


def test_listing_columns_are_the_tables_columns():
    """The direct path names its columns (tracking.queries); they must be the tables' own, in order."""
    from mlplat.monitoring.schema import monitor_checks
    from mlplat.registry.schema import approval_requests
    from mlplat.tracking.schema import audit_log

    assert queries.AUDIT_COLUMNS == tuple(c.name for c in audit_log.columns)
    assert queries.REQUEST_COLUMNS == tuple(c.name for c in approval_requests.columns)
    assert queries.CHECK_COLUMNS == tuple(c.name for c in monitor_checks.columns)


def _registry_rows(store):
    from mlplat.monitoring.schema import monitor_checks
    from mlplat.registry.schema import approval_requests, approvals, registered_models
    from mlplat.tracking import audit

    def request(rid, name, version, status, created, expires):
        return {"id": rid, "name": name, "version": version, "target": "production", "status": status,
                "requester": "ana", "source": "cli", "created_at": created, "expires_at": expires,
                "approvals_needed": 1, "evidence": '{"gates": {"passed": true}}'}

    def check(i, model, kind, version, created):
        return {"id": i, "created_at": created, "kind": kind, "model": model, "version": version, "status": "ok",
                "features": '{"x": "ok"}', "summary": '{"n": 1}', "actor": "bot", "source": "schedule"}

    with store.write() as conn:
        conn.execute(registered_models.insert(), [{"name": n, "created_at": T0, "latest_version": 2}
                                                  for n in ("churn", "churn2")])
        conn.execute(approval_requests.insert(), [request("req-a", "churn", 1, "approved", T0 + 1, None),
                                                  request("req-b", "churn", 2, "pending", T0 + 2, 4e9),
                                                  request("req-c", "churn2", 1, "pending", T0 + 3, 4e9)])
        conn.execute(approvals.insert(), [{"request_id": "req-a", "approver": "bo", "source": "slack", "ts": T0 + 4}])
        for action, otype, oid in (("model.register", "model", "churn:1"), ("alias.set", "alias", "churn@production"),
                                   ("promotion.requested", "request", "req-b"), ("model.register", "model", "churn2:1"),
                                   ("promotion.requested", "request", "req-c"), ("run.done", "run", "churn-run")):
            audit.append(conn, actor="ana", source="cli", action=action, object_type=otype, object_id=oid)
        conn.execute(monitor_checks.insert(), [check(1, "churn", "drift", 1, T0 + 10), check(2, "churn", "latency", 2, T0 + 11),
                                               check(3, "churn", "drift", 2, T0 + 12), check(4, "churn2", "drift", 1, T0 + 13)])


def test_approvals_audit_and_monitor_history_read_directly_as_their_definitions_say(store):
    _registry_rows(store)
    url = store.url
    assert direct.read_rows(url, partial(queries.audit_entries, object_id="churn")) is not None
    # a model name: its versions, aliases and its requests' entries; never churn2's or a run named churn-...
    for kwargs, expected in ((dict(object_id="churn"), ["req-b", "churn@production", "churn:1"]),
                             (dict(object_id="churn:2"), ["req-b"]),
                             (dict(object_id="Churn"), []),  # exact text, on both databases
                             (dict(action="model."), ["churn2:1", "churn:1"]),
                             (dict(object_type="request", limit=1), ["req-c"])):
        via_direct = ops.audit_log(url=url, **kwargs)
        assert [e["object_id"] for e in via_direct] == expected, kwargs
        assert via_direct == ops.audit_log(store=store, **kwargs)
    listed = ops.list_approvals(actor="ana", source="cli", url=url)
    assert [(r["id"], r["approvals_count"]) for r in listed] == [("req-c", 0), ("req-b", 0), ("req-a", 1)]
    assert listed[0]["evidence"] == {"gates": {"passed": True}}
    assert listed == ops.list_approvals(actor="ana", source="cli", store=store)
    assert [r["id"] for r in ops.list_approvals(actor="ana", source="cli", url=url, status="pending",
                                                name="churn")] == ["req-b"]
    history = ops.monitor_history("churn", url=url)
    assert [h["id"] for h in history] == [3, 2, 1] and history[0]["features"] == {"x": "ok"}
    assert [h["id"] for h in ops.monitor_history("churn:2", kind="drift", url=url)] == [3]
    assert history == ops.monitor_history("churn", store=store)
    with pytest.raises(NotFound, match="model 'nochurn' is not registered"):
        ops.monitor_history("nochurn", url=url)


def test_a_stale_request_is_expired_and_audited_before_it_is_listed(store):
    """The listing's one write: a pending request past its expiry is listed expired, never pending."""
    from mlplat.registry.schema import approval_requests

    _registry_rows(store)
    with store.write() as conn:
        conn.execute(approval_requests.update().where(approval_requests.c.id == "req-b").values(expires_at=T0 + 5))
    try:
        listed = {r["id"]: r["status"] for r in ops.list_approvals(actor="sched", source="cli", url=store.url)}
    finally:
        ops.open_store(url=store.url).close()  # the handle the listing opened (cached per process)
    assert listed == {"req-a": "approved", "req-b": "expired", "req-c": "pending"}
    assert [e["object_id"] for e in ops.audit_log(url=store.url, action="promotion.expired")] == ["req-b"]
