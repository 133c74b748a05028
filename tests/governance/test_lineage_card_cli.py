"""`mlplat lineage`, `mlplat models card` and `mlplat report governance` through the real CLI."""

from __future__ import annotations

import json
import sqlite3

import pytest
from gov_kit import fresh_store, run_cli


def _cli(cwd, url):
    def cli(*args, actor="bob", check=True):
        return run_cli(list(args), cwd=cwd, actor=actor, store_url=url, check=check)

    return cli


@pytest.fixture(scope="module")
def loop_base(tmp_path_factory, trained):
    """churn:1 through the whole loop by CLI: registered by bob, production asked by bob and approved
    by alice (the shipped policy's ml-lead), staging set at once; churn:2 (weak) registered after."""
    base = tmp_path_factory.mktemp("loop")
    _, url = fresh_store(base, trained)
    cli = _cli(base, url)
    cli("models", "register", trained["strong"], "--name", "churn")
    req = json.loads(cli("models", "promote", "churn", "1", "--to", "production", "--format", "json").stdout)
    cli("approve", req["id"], "--comment", "ship it", actor="alice")
    cli("models", "promote", "churn", "1", "--to", "staging")
    cli("models", "register", trained["weak"], "--name", "churn")
    return {"db": url.removeprefix("sqlite:///"), "artifacts": trained["artifacts"]}


@pytest.fixture
def loop(tmp_path, loop_base):
    """A private copy of the looped store: tests tamper with it."""
    _, url = fresh_store(tmp_path, loop_base)
    return {"cli": _cli(tmp_path, url), "db": url.removeprefix("sqlite:///"), "tmp": tmp_path}


def test_lineage_links_data_run_config_version_approvals_and_aliases(loop, trained):
    data = json.loads(loop["cli"]("lineage", "churn@production", "--format", "json").stdout)
    con = sqlite3.connect(loop["db"])
    fingerprint, config_hash = con.execute("SELECT dataset_fingerprint, config_hash FROM runs WHERE id = ?",
                                           (trained["strong"],)).fetchone()
    assert data["ref"] == "churn:1" and data["run"]["id"] == trained["strong"]
    assert data["dataset"]["fingerprint"] == fingerprint and data["config"]["config_hash"] == config_hash
    assert "model=logreg" in data["config"]["overrides"] and data["config"]["resolved"]["dataset"]["name"] == "churn"
    assert [(r["requester"], [a["approver"] for a in r["approvals"]]) for r in data["approvals"]
            if r["target"] == "production"] == [("bob", ["alice"])]
    assert sorted((m["alias"], m["action"]) for m in data["alias_changes"]) == [("production", "promote"),
                                                                                ("staging", "promote")]
    stages = [r["stage"] for r in data["chain"]]
    assert stages[:5] == ["dataset", "run", "config", "code", "version"] and stages.count("alias") == 2
    assert {"run.start", "run.done", "model.register", "promotion.request", "approval.add",
            "alias.promote"} <= {e["action"] for e in data["audit"]}
    assert all(c["ok"] for c in data["checks"]) and data["audit_chain"]["ok"]

    table = loop["cli"]("lineage", "churn:1")
    assert "alice" in table.stdout and "6/6 store/audit checks agree" in table.stdout
    # a bare name is the version in production (churn:1), not the newest (churn:2), and says so
    bare = loop["cli"]("lineage", "churn")
    assert "Lineage of churn:1 (the version on production" in bare.stdout

    # a model digest edited in the store no longer matches what the audit trail recorded
    con.execute("UPDATE model_versions SET model_sha256 = ? WHERE name = 'churn' AND version = 1", ("0" * 64,))
    con.commit()
    con.close()
    bad = loop["cli"]("lineage", "churn:1", check=False)
    assert bad.returncode == 1 and "MISMATCH: model sha256 (version vs audit model.register)" in bad.stdout

    missing = loop["cli"]("lineage", "churn:9", check=False)
    assert missing.returncode == 1 and missing.stderr.startswith("error: model 'churn' has no version 9")


def test_model_card_of_a_challenger_against_the_champion(loop, trained):
    card_md = loop["cli"]("models", "card", "churn:2").stdout
    con = sqlite3.connect(loop["db"])
    folds = [v for (v,) in con.execute("SELECT value FROM run_fold_metrics WHERE run_id = ? AND name = 'roc_auc'",
                                       (trained["weak"],))]
    assert len(folds) == 3
    row = next(line for line in card_md.splitlines() if line.startswith("| roc_auc |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[2] == f"{min(folds):.4f}" and cells[3] == f"{max(folds):.4f}"  # fold spread from the store
    for needle in ("# Model card: churn:2", "## Intended use", "retention team",  # declared in conf/governance
                   "production is version 1", "same data, seed and holdout split", "| C | 0.01 |",
                   "reference of 1600 training rows", "| contract | categorical |", "no promotion requested yet"):
        assert needle in card_md, needle

    out = loop["tmp"] / "cards" / "churn1.html"
    printed = loop["cli"]("models", "card", "churn@production", "--format", "html", "--output", str(out)).stdout
    assert "written to" in printed
    html = out.read_text()
    assert "Model card: churn:1 [production, staging]" in html and "this version is the production champion" in html
    assert "<td>alice</td>" in html and "<script" not in html

    bad = loop["cli"]("models", "card", "churn:1", "--format", "pdf", check=False)
    assert bad.returncode == 2 and "invalid choice: 'pdf'" in bad.stderr


def test_report_cli_writes_files_and_exits_1_when_the_audit_chain_is_broken(loop):
    out = loop["tmp"] / "gov.json"
    ok = loop["cli"]("report", "governance", "--since", "2d", "--format", "json", "--output", str(out))
    data = json.loads(out.read_text())
    assert data["status"] == "ok" and "written to" in ok.stdout
    assert data["production"][0]["approval"]["approvers"][0]["approver"] == "alice"

    blocked = loop["tmp"] / "a_file"
    blocked.write_text("")
    unwritable = loop["cli"]("report", "governance", "--output", str(blocked / "r.md"), check=False)
    assert unwritable.returncode == 1 and unwritable.stderr.startswith("error: cannot write")
    assert len(unwritable.stderr.strip().splitlines()) == 1

    con = sqlite3.connect(loop["db"])
    con.execute("DELETE FROM audit_log WHERE seq = 2")
    con.commit()
    con.close()
    broken = loop["cli"]("report", "governance", check=False)
    assert broken.returncode == 1 and "audit_chain_broken" in broken.stdout and "entry 2 is missing" in broken.stdout
