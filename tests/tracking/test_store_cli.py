"""The store's front door: `mlplat leaderboard`, `runs list`, `store stats|prune` in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from store_helpers import record

from mlplat.config.compose import PACKAGE_CONF, compose, to_plain
from mlplat.project import resolve_tracking
from mlplat.tracking import runs
from mlplat.tracking.defaults import default_tracking
from mlplat.tracking.store import Store


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("cli")
    store = Store.open(f"sqlite:///{root}/runs/mlplat.db", root / "runs" / "artifacts")
    runs.record_runs_batch(store, [record(f"r{i:02d}", {"roc_auc": 0.5 + i / 100}, started_at=time.time() - i,
                                          model="knn" if i % 2 else "xgboost", sweep_id="sw", job_num=i)
                                   for i in range(30)])
    store.close()
    return root


def mlplat(root: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLPLAT_", "HYDRA_"))}
    return subprocess.run([sys.executable, "-m", "mlplat.cli", *args], cwd=root, env=env, capture_output=True,
                          text=True, timeout=120)


@pytest.mark.parametrize("args,expected", [
    (["leaderboard", "--metric", "auc"], "unknown metric 'auc': expected one of accuracy, f1, roc_auc"),
    (["runs", "list", "--filter", "colour=red"], "unknown filter field 'colour': expected one of experiment"),
    (["store", "prune", "--older-than", "180x", "--keep-registered"], "--older-than: malformed duration '180x'"),
    (["store", "prune", "--older-than", "180d"], "pass --keep-registered to confirm"),
])
def test_bad_input_ends_in_one_clear_line(project: Path, args: list[str], expected: str):
    proc = mlplat(project, *args)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0], proc.stderr


def test_listing_pages_stream_and_end_empty(project: Path):
    page2 = json.loads(mlplat(project, "runs", "list", "--page", "2", "--page-size", "10", "--format", "json").stdout)
    assert [r["id"] for r in page2] == [f"r{i:02d}" for i in range(10, 20)]
    beyond = mlplat(project, "runs", "list", "--page", "99", "--format", "json")
    assert beyond.returncode == 0 and json.loads(beyond.stdout) == []
    everything = json.loads(mlplat(project, "runs", "list", "--all", "--model", "knn", "--format", "json").stdout)
    assert [r["id"] for r in everything] == [f"r{i:02d}" for i in range(1, 30, 2)]
    top = json.loads(mlplat(project, "leaderboard", "--top", "3", "--model", "xgboost", "--format", "json").stdout)
    assert [r["id"] for r in top["rows"]] == ["r28", "r26", "r24"]


def test_store_stats_and_prune_dry_run(project: Path):
    stats = json.loads(mlplat(project, "store", "stats", "--format", "json").stdout)
    assert stats["runs"] == 30 and stats["runs_by_status"] == {"done": 30} and stats["schema_up_to_date"]
    dry = json.loads(mlplat(project, "store", "prune", "--older-than", "1s", "--keep-registered", "--dry-run",
                            "--format", "json").stdout)
    assert dry["dry_run"] and dry["files"] == 0 and dry["audit_seqs"] == []


def _tracking_by_compose(overrides: list[str] | None = None) -> dict:
    # the cheap read promises where reads look (url, artifacts); lock_wait concerns writes only
    tracking = to_plain(compose(overrides or []))["tracking"]
    return {"url": tracking["url"], "artifacts": tracking["artifacts"]}


def test_cheap_tracking_read_gives_the_composed_url(monkeypatch, tmp_path: Path):
    monkeypatch.chdir(tmp_path)  # no ./conf here: the shipped tree is used
    monkeypatch.delenv("MLPLAT_STORE_URL", raising=False)
    monkeypatch.delenv("MLPLAT_ARTIFACTS", raising=False)
    # the composed node has its relative paths made absolute against the project root
    assert resolve_tracking(default_tracking(PACKAGE_CONF)) == _tracking_by_compose()
    monkeypatch.setenv("MLPLAT_STORE_URL", "sqlite:///elsewhere.db")
    assert resolve_tracking(default_tracking(PACKAGE_CONF)) == _tracking_by_compose()
    assert default_tracking(PACKAGE_CONF)["url"] == "sqlite:///elsewhere.db"


def test_cheap_tracking_read_defers_when_unsure(tmp_path: Path):
    conf = tmp_path / "conf"
    (conf / "tracking").mkdir(parents=True)
    (conf / "experiment").mkdir()
    (conf / "tracking" / "local.yaml").write_text("url: sqlite:///a.db\nartifacts: runs/artifacts\n")
    (conf / "experiment" / "team.yaml").write_text("# @package _global_\ntracking:\n  url: sqlite:///team.db\n")
    (conf / "config.yaml").write_text("defaults:\n  - tracking: local\n  - experiment: team\n  - _self_\n")
    assert default_tracking(conf) is None  # an experiment file may move the store: compose instead
    (conf / "config.yaml").write_text("defaults:\n  - tracking: local\n  - optional experiment: null\n  - _self_\n")
    assert default_tracking(conf) == {"url": "sqlite:///a.db", "artifacts": "runs/artifacts"}
    (conf / "tracking" / "local.yaml").write_text("url: ${oc.env:HOME}/x\nartifacts: a\n")
    assert default_tracking(conf) is None
