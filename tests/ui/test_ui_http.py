"""The web UI over real HTTP on 127.0.0.1: every page, the JSON API, bad input, the decision path."""

from __future__ import annotations

import re

import httpx
import pytest
from conftest import HEADER, N_VOLUME, serve
from markupsafe import escape
from sklearn.linear_model import LogisticRegression

from mlplat.tracking.store import Store


def get(server, path: str, **kw) -> httpx.Response:
    return httpx.get(server.url + path, timeout=30, **kw)


def api(server, path: str, **params):
    r = get(server, "/api/v1" + path, params=params)
    assert r.status_code == 200, r.text
    return r.json()


def test_every_page_renders_on_the_seeded_store(ui, seeded):
    pages = ["/runs", f"/runs/{seeded['strong']}", f"/compare?ids={seeded['strong']}&ids={seeded['weak']}",
             "/sweeps", f"/sweeps/{seeded['sweep_id']}", "/models", "/models/churn", "/models/churn/1/card",
             "/monitoring", f"/monitoring/checks/{seeded['check_id']}", f"/monitoring/checks/{seeded['check_id']}/report",
             "/audit", "/audit?verify=true", "/api/v1/docs"]
    for path in pages:
        r = get(ui, path)
        assert r.status_code == 200, (path, r.text[:500])
        assert "text/html" in r.headers["content-type"]
        assert "default-src 'self'" in r.headers["content-security-policy"]
        assert r.headers["server-timing"].startswith("app;dur=")
    run = get(ui, f"/runs/{seeded['strong']}").text
    for shown in ("Lineage", "dataset fingerprint", "model.joblib", "Data profile", "tenure_months", "run.start",
                  f"mlplat runs rerun {seeded['strong']}", "Feature importances"):
        assert shown in run, shown
    model = get(ui, "/models/churn").text
    assert "beat_champion" in model and "pending" in model  # the pending request with its gate evidence
    assert "verify: ok" in get(ui, "/audit?verify=true").text
    # no page refers to another host: every src/href is relative to this origin
    for path in ("/runs", f"/runs/{seeded['strong']}", "/models/churn", f"/sweeps/{seeded['sweep_id']}"):
        for ref in re.findall(r'(?:src|href|action)="([^"]*)"', get(ui, path).text):
            assert not re.match(r"^(https?:)?//", ref), (path, ref)


def test_runs_are_sorted_and_filtered_in_the_database(ui, seeded):
    vol = seeded["volume"]
    # a metric, best first by its direction (roc_auc: highest), two filters, the column fetched per page
    got = api(ui, "/runs", sort="metric.roc_auc", f=["dataset=wage", "model=xgboost"], cols="param.C,metric.log_loss",
              page_size=5)
    want = sorted((d for d in vol if d["dataset"] == "wage" and d["model"] == "xgboost"),
                  key=lambda d: (-d["roc_auc"], d["started_at"]))[:5]
    assert [r["id"] for r in got["rows"]] == [d["id"] for d in want]
    assert [r["cells"]["param.C"] for r in got["rows"]] == [d["params"]["C"] for d in want]
    assert got["order"] == "desc" and got["has_next"]
    # a param sorts as a number (2 before 10), not as text
    got = api(ui, "/runs", sort="param.max_depth", order="asc", page_size=N_VOLUME)
    depths = [r["sort_value"] for r in got["rows"]]
    assert depths == sorted(depths) and depths[0] == min(d["params"]["max_depth"] for d in vol)
    assert len(depths) == N_VOLUME  # the two trained runs have no max_depth: not listed when sorting by it
    # params, tags and metric ranges as filters
    got = api(ui, "/runs", f=["param.max_depth>=10", "tag.team=fraud", "metric.roc_auc>0.8", "param.kernel=rbf"],
              page_size=500)
    want = {d["id"] for d in vol if d["params"]["max_depth"] >= 10 and d["tags"]["team"] == "fraud"
            and d["roc_auc"] > 0.8 and d["params"]["kernel"] == "rbf"}
    assert {r["id"] for r in got["rows"]} == want and want
    got = api(ui, "/runs", f=["param.C=0.1", "status!=failed"], page_size=500)
    assert {r["id"] for r in got["rows"]} == {d["id"] for d in vol if d["params"]["C"] == 0.1}
    # pages never overlap or skip
    seen = []
    for page in (1, 2, 3, 4):
        seen += [r["id"] for r in api(ui, "/runs", sort="param.C", page=page, page_size=40)["rows"]]
    # the two trained logistic regressions record their fitted C too (get_params of the estimator)
    assert len(seen) == len(set(seen)) == N_VOLUME + 2
    # newest first by default; the trained runs are the newest
    first = api(ui, "/runs", page_size=2)["rows"]
    assert {r["id"] for r in first} == {seeded["strong"], seeded["weak"]}
    columns = api(ui, "/runs/columns")
    # the volume's params, and every effective parameter of the trained LogisticRegression
    assert columns["params"] == sorted({"C", "kernel", "max_depth", *LogisticRegression().get_params()})
    assert columns["tags"] == ["team"]
    assert {"roc_auc", "log_loss"} <= set(columns["metrics"])


def test_the_runs_page_keeps_its_view_in_the_url(ui, seeded):
    r = get(ui, "/runs", params={"sort": "metric.roc_auc", "f": ["dataset=wage"], "cols": "param.max_depth,tag.team",
                                 "page_size": "10"})
    assert r.status_code == 200
    assert 'value="dataset=wage"' in r.text and 'value="param.max_depth,tag.team"' in r.text
    assert r.text.count('class="pick"') == 10
    assert "page=2" in r.text  # the next page link keeps the same filters and sort
    next_link = re.search(r'href="([^"]*page=2[^"]*)" id="next"', r.text).group(1).replace("&amp;", "&")
    assert "f=dataset%3Dwage" in next_link and "sort=metric.roc_auc" in next_link


@pytest.mark.parametrize(("flt", "said"), [
    ("param.C>>1", "'>1' is not a number"),
    ("metric.roc_auc>=high", "'high' is not a number"),
    ("colour=red", "unknown field 'colour'"),
    ("dataset", "no operator"),
    ("tag.team>3", "tags compare with = or != only"),
    ("started>=yesterday", "neither a date"),
    ("param.=3", "param. needs a key"),
])
def test_a_malformed_filter_is_named_with_the_reason_never_a_500(ui, flt, said):
    r = get(ui, "/runs", params={"f": flt})
    assert r.status_code == 400
    assert "Cannot apply" in r.text and str(escape(said)) in r.text
    j = get(ui, "/api/v1/runs", params={"f": flt})
    assert j.status_code == 400 and said in j.json()["detail"] and flt.strip() in j.json()["detail"]
    assert get(ui, "/runs", params={"sort": "colour.red"}).status_code == 400
    assert get(ui, "/runs", params={"page": "abc"}).status_code == 400
    assert get(ui, "/runs", params={"page_size": "100000"}).status_code == 400


def test_unknown_ids_are_404_pages_with_a_way_back(ui):
    for path in ("/runs/nosuchrun", "/sweeps/nosuchsweep", "/models/nosuchmodel", "/compare?ids=aaaa&ids=bbbb",
                 "/monitoring/checks/99999", "/nowhere"):
        r = get(ui, path)
        assert r.status_code == 404, path
        assert 'class="back"' in r.text and 'href="/runs"' in r.text
    assert get(ui, "/api/v1/runs/nosuchrun").json()["detail"].startswith("run 'nosuchrun' not found")
    assert get(ui, "/compare?ids=only1").status_code == 400  # one run is not a comparison


def test_an_unreachable_store_is_a_page_and_the_server_stays_up(seeded, tmp_path):
    dead = "postgresql+psycopg://nobody:secret@127.0.0.1:9/none"  # nothing listens on port 9
    with serve(dead, str(tmp_path)) as server:
        for path in ("/runs", "/models", "/api/v1/runs"):
            r = get(server, path)
            assert r.status_code == 503, (path, r.text[:300])
            assert "cannot reach the store" in r.text and "secret" not in r.text
        assert get(server, "/runs").status_code == 503  # still up, still saying so


def test_compare_aligns_every_value_with_the_run_ids(ui, seeded):
    ids = [d["id"] for d in seeded["volume"][:6]]
    d = api(ui, "/compare", ids=",".join(ids))
    assert d["ids"] == ids
    assert d["params"]["max_depth"] == [v["params"]["max_depth"] for v in seeded["volume"][:6]]
    assert d["metrics"]["roc_auc"]["folds"] == [v["folds"] for v in seeded["volume"][:6]]
    assert d["metrics"]["roc_auc"]["cv"] == [v["roc_auc"] for v in seeded["volume"][:6]]
    assert "max_depth" in d["differing_params"]


def test_the_json_api_is_documented_and_versioned(ui):
    spec = api(ui, "/openapi.json")
    assert spec["info"]["version"] == "1"
    for path in ("/api/v1/runs", "/api/v1/runs/{run_id}", "/api/v1/compare", "/api/v1/sweeps/{sweep_id}",
                 "/api/v1/models/{name}", "/api/v1/monitoring", "/api/v1/audit"):
        assert path in spec["paths"], path
    assert not any(p.startswith(("/runs", "/approvals")) for p in spec["paths"])  # pages are not the API


def _csrf(html: str) -> str:
    return re.search(r'name="csrf" value="([0-9a-f]{64})"', html).group(1)


def test_without_an_identity_there_are_no_buttons_and_a_post_is_refused(ui, ui_auth, seeded):
    page = get(ui, "/models/churn").text
    assert "Approve" not in page and "Roll back" not in page and 'name="csrf"' not in page
    r = httpx.post(f"{ui.url}/approvals/{seeded['pending']}/approve", data={"csrf": "0" * 64},
                   headers={HEADER: "alice"}, timeout=30)
    assert r.status_code == 403 and "read-only" in r.text
    # the auth UI, but no header: still no buttons
    assert "Approve" not in get(ui_auth, "/models/churn").text
    # with the header: buttons; a POST without the page's token (a forged cross-site form) is refused
    assert "Approve" in get(ui_auth, "/models/churn", headers={HEADER: "alice"}).text
    for token in (None, "0" * 64):
        r = httpx.post(f"{ui_auth.url}/approvals/{seeded['pending']}/approve",
                       data={} if token is None else {"csrf": token}, headers={HEADER: "alice"}, timeout=30)
        assert r.status_code == 403 and "CSRF" in r.text
    # alice's token does not work for mallory
    token = _csrf(get(ui_auth, "/models/churn", headers={HEADER: "alice"}).text)
    r = httpx.post(f"{ui_auth.url}/approvals/{seeded['pending']}/approve", data={"csrf": token},
                   headers={HEADER: "mallory"}, timeout=30)
    assert r.status_code == 403


def test_a_header_from_an_untrusted_address_is_ignored(store_url, seeded):
    with serve(store_url, seeded["artifacts"], auth_header=HEADER, trusted_proxies=["10.1.2.3"]) as server:
        page = get(server, "/models/churn", headers={HEADER: "alice"}).text
        assert "Approve" not in page and "read-only" in page


def test_decisions_go_through_the_same_rules(ui_auth, seeded, store_url):
    def post(path: str, who: str, **form) -> httpx.Response:
        token = _csrf(get(ui_auth, "/models/churn", headers={HEADER: who}).text)
        return httpx.post(ui_auth.url + path, data={"csrf": token, **form}, headers={HEADER: who}, timeout=30)

    # four-eyes: the requester may not approve; a user without the approver role may not either
    r = post(f"/approvals/{seeded['pending']}/approve", "bob")
    assert r.status_code == 403 and "four-eyes" in r.text
    r = post(f"/approvals/{seeded['pending']}/approve", "zed")
    assert r.status_code == 403 and "ml-lead" in r.text
    r = post(f"/approvals/{seeded['pending']}/approve", "alice", comment="looks good")
    assert r.status_code == 303 and "now%20points%20at%20version%202" in r.headers["location"]
    store = Store.open(store_url, seeded["artifacts"])
    with store.read() as conn:
        from mlplat.registry import aliases

        assert aliases.current(conn, "churn", "production") == 2
    entries = api(ui_auth, "/audit", object_id=seeded["pending"])["entries"]
    assert any(e["action"] == "approval.add" and e["actor"] == "alice" and e["source"] == "ui" for e in entries)
    # approving again: the request is decided (409, one line saying so)
    r = post(f"/approvals/{seeded['pending']}/approve", "carol")
    assert r.status_code == 409 and "already approved" in r.text
    # rollback needs the oncall role (dave has it), moves production back to 1
    assert post("/models/churn/rollback", "carol", alias="production").status_code == 403
    r = post("/models/churn/rollback", "dave", alias="production")
    assert r.status_code == 303
    with store.read() as conn:
        assert aliases.current(conn, "churn", "production") == 1
    page = get(ui_auth, "/models/churn?at=2000-01-01T00:00").text
    assert "nothing" in page  # what served at a time before any promotion
    assert get(ui_auth, "/models/churn?at=notatime").status_code == 400
