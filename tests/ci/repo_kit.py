"""A temporary project in git for CI tests: this repository's conf/ and data/, one small experiment,
a bare `origin`, and helpers to commit changes and run a generated workflow's steps locally."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
GIT_ENV = {"GIT_AUTHOR_NAME": "dev", "GIT_AUTHOR_EMAIL": "dev@example.com", "GIT_COMMITTER_NAME": "dev",
           "GIT_COMMITTER_EMAIL": "dev@example.com"}
EXPERIMENT = """# @package _global_
# a small experiment for CI tests: churn, logistic regression, three folds
defaults:
  - override /dataset: churn
  - override /model: logreg
  - override /evaluation: fast

name: ci_churn
model:
  classifier_params: {{C: {C}, max_iter: 2000}}
"""


def git(root: Path, *args: str) -> str:
    p = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=60,
                       env={**os.environ, **GIT_ENV})
    assert p.returncode == 0, f"git {' '.join(args)}: {p.stderr}"
    return p.stdout


def make_repo(base: Path, *, C: float = 0.01) -> Path:
    work = base / "work"
    shutil.copytree(REPO / "conf", work / "conf")
    shutil.copytree(REPO / "data", work / "data")
    (work / "conf" / "experiment" / "ci_churn.yaml").write_text(EXPERIMENT.format(C=C))
    (work / "pyproject.toml").write_text("[project]\nname = 'churn-models'\nversion = '0.1'\n")
    (work / ".gitignore").write_text(".venv\nruns/\nci-report/\n")
    os.symlink(Path(sys.executable).parent.parent, work / ".venv")  # the Install step finds mlplat installed
    git(work, "init", "-q", "-b", "main")
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", "base")
    git(base, "init", "-q", "--bare", "origin.git")
    git(work, "remote", "add", "origin", str(base / "origin.git"))
    git(work, "push", "-q", "origin", "main")
    return work


def set_C(work: Path, C: float, message: str) -> None:
    (work / "conf" / "experiment" / "ci_churn.yaml").write_text(EXPERIMENT.format(C=C))
    git(work, "commit", "-q", "-am", message)


def run_steps(workflow: Path, job: str, cwd: Path, env: dict[str, str], *,
              only: tuple[str, ...] = ()) -> list[subprocess.CompletedProcess]:
    """Every `run:` step of ``job`` in order (the `uses:` actions are GitHub's; the steps are ours);
    with ``only``, just the steps whose command contains one of those strings."""
    spec = yaml.safe_load(workflow.read_text())
    done = []
    for step in spec["jobs"][job]["steps"]:
        if "run" not in step or (only and not any(o in step["run"] for o in only)):
            continue
        step_env = {k: v for k, v in (step.get("env") or {}).items() if "${{" not in str(v)}
        p = subprocess.run(["bash", "-e", "-c", step["run"]], cwd=cwd, env={**env, **step_env}, capture_output=True,
                           text=True, timeout=600)
        done.append(p)
        if p.returncode != 0:
            break
    return done
