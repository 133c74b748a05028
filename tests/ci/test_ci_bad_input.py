"""`mlplat ci run|deploy` on bad input: one clear line, the right exit code, nothing registered."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from repo_kit import git, make_repo


@pytest.fixture
def repo(tmp_path):
    return make_repo(tmp_path)


def _env(tmp_path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLPLAT_", "HYDRA_", "GITHUB_", "CI_", "GITLAB"))}
    env.update({"MLPLAT_STORE_URL": f"sqlite:///{tmp_path / 'store.db'}", "MLPLAT_ARTIFACTS": str(tmp_path / "art"),
                "OMP_WAIT_POLICY": "PASSIVE"})
    return env


def _ci(cwd, tmp_path, *args):
    return subprocess.run([sys.executable, "-m", "mlplat.cli", "ci", *args], cwd=cwd, env=_env(tmp_path),
                          capture_output=True, text=True, timeout=300)


def _one_line(p, code: int, words: str) -> None:
    assert p.returncode == code, (p.returncode, p.stdout, p.stderr)
    assert p.stderr.count("\n") == 1 and words in p.stderr and "Traceback" not in p.stderr, p.stderr


def test_refusals_before_anything_trains(repo, tmp_path):
    outside = tmp_path / "plain"
    outside.mkdir()
    _one_line(_ci(outside, tmp_path, "run", "--base", "main"), 2, "is not inside a git repository")
    _one_line(_ci(repo, tmp_path, "run", "--base", "nope"), 2, "unknown base ref 'nope'")
    _one_line(_ci(repo, tmp_path, "run"), 2, "give --base REF")
    _one_line(_ci(repo, tmp_path, "run", "experiment=nope"), 2, "unknown experiment 'nope'")
    _one_line(_ci(repo, tmp_path, "run", "experiment=ci_churn", "--target", "canary"), 2,
              "alias 'canary' has no promotion policy")
    (tmp_path / "afile").write_text("")
    _one_line(_ci(repo, tmp_path, "run", "experiment=ci_churn", "--report", str(tmp_path / "afile" / "r.md")), 2,
              "is not writable")
    _one_line(_ci(repo, tmp_path, "run", "experiment=ci_churn", "--report", "r.txt"), 2, "name it .md, .html or .json")
    _one_line(_ci(repo, tmp_path, "deploy", "--base", "HEAD~3"), 2, "unknown base ref 'HEAD~3'")
    # an actor the policy does not let request promotions: refused before anything trains
    access = repo / "conf" / "access" / "default.yaml"
    text = access.read_text()
    # mlplat-ci may still train (ml-engineer) but no longer open a promotion request
    assert "promote: [ml-engineer]" in text  # the edit below must change something, or the test proves nothing
    access.write_text(text.replace("promote: [ml-engineer]", "promote: [ml-lead]", 1))
    env_actor = {**_env(tmp_path), "MLPLAT_ACTOR": "mlplat-ci"}
    p = subprocess.run([sys.executable, "-m", "mlplat.cli", "ci", "deploy", "--base", "HEAD"], cwd=repo, env=env_actor,
                       capture_output=True, text=True, timeout=300)
    _one_line(p, 2, "'mlplat-ci' may not promote (mlplat ci deploy)")
    assert not (tmp_path / "store.db").exists() or not json.loads(subprocess.run(
        [sys.executable, "-m", "mlplat.cli", "runs", "list", "--format", "json"], cwd=repo, env=_env(tmp_path),
        capture_output=True, text=True, timeout=120).stdout)  # nothing trained


def test_no_affected_experiment_is_exit_0(repo, tmp_path):
    (repo / "README.md").write_text("docs only\n")
    git(repo, "add", "README.md")
    git(repo, "commit", "-q", "-m", "docs")
    p = _ci(repo, tmp_path, "run", "--base", "HEAD~1")
    assert p.returncode == 0 and "no experiment is affected by the change (1 changed file(s))" in p.stdout, p.stderr
    report = (repo / "ci-report.md").read_text()
    assert "no experiment affected" in report and "README.md" in report


def test_html_report_and_a_failed_deploy_registers_nothing(repo, tmp_path):
    p = _ci(repo, tmp_path, "run", "experiment=demo", "--report", "ci-report.html")  # as in the README
    assert p.returncode == 0, p.stderr
    assert "no production version of demo yet; all gates pass" in p.stdout
    page = (repo / "ci-report.html").read_text()
    assert page.startswith("<!doctype html>") and "data:image/png;base64," in page and "demo" in page
    # the data file is gone on main: the deploy errors (exit 2) and registers nothing
    (repo / "data" / "churn.csv").unlink()
    git(repo, "commit", "-q", "-am", "drop the data")
    p = _ci(repo, tmp_path, "deploy", "--base", "HEAD~1")
    assert p.returncode == 2 and "nothing was registered" in p.stderr and "churn.csv" in p.stdout, p.stdout + p.stderr
    models = subprocess.run([sys.executable, "-m", "mlplat.cli", "models", "list", "--format", "json"], cwd=repo,
                            env=_env(tmp_path), capture_output=True, text=True, timeout=120)
    assert json.loads(models.stdout) == []
