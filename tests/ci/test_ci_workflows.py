"""The CI files mlplat writes: GitHub's checked with actionlint, GitLab's against its JSON schema."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mlplat.ci.workflows import write_workflow
from mlplat.errors import ConfigError

BIN = Path(sys.executable).parent


def _git_repo(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "init", "-q", str(path)], check=True)
    (path / "pyproject.toml").write_text("[project]\nname = 'demo'\n")
    return path


def test_github_workflow_passes_actionlint(tmp_path):
    root = _git_repo(tmp_path / "repo")
    path = write_workflow(root, "github")
    assert path == root / ".github" / "workflows" / "mlplat.yml"
    text = path.read_text()
    for step in ("mlplat check", "mlplat ci run --base", "mlplat ci comment", "mlplat ci deploy --base HEAD~1",
                 "actions/cache@v4", "secrets.MLPLAT_STORE_URL", "secrets.GITHUB_TOKEN", "pip install -q -e ."):
        assert step in text, step
    lint = subprocess.run([str(BIN / "actionlint"), "-no-color", str(path)], cwd=root, capture_output=True, text=True,
                          timeout=120)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    # the linter does find a broken workflow (the check can fail)
    path.write_text(text.replace("runs-on: ubuntu-latest", "runs-on: [ubuntu-latest", 1))
    bad = subprocess.run([str(BIN / "actionlint"), "-no-color", str(path)], cwd=root, capture_output=True, text=True,
                         timeout=120)
    assert bad.returncode != 0


def test_gitlab_ci_file_matches_its_schema(tmp_path):
    root = _git_repo(tmp_path / "repo")
    path = write_workflow(root, "gitlab")
    assert path == root / ".gitlab-ci.yml"
    check = [str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.gitlab-ci"]
    ok = subprocess.run([*check, str(path)], capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    path.write_text(path.read_text().replace("when: always", "when: sometimes", 1))
    assert subprocess.run([*check, str(path)], capture_output=True, text=True, timeout=120).returncode != 0


def test_write_refuses_to_overwrite_without_force(tmp_path):
    root = _git_repo(tmp_path / "repo")
    path = write_workflow(root, "gitlab")
    path.write_text("mine")
    with pytest.raises(ConfigError, match="already exists; pass --force"):
        write_workflow(root, "gitlab")
    assert path.read_text() == "mine"
    write_workflow(root, "gitlab", force=True)
    assert "mlplat ci deploy" in path.read_text()
    shutil.rmtree(root / ".github", ignore_errors=True)


def test_ci_workflow_command(project):
    p = project.mlplat("ci", "workflow", "github")
    assert p.returncode == 0 and "wrote" in p.stdout
    assert (project.root / ".github" / "workflows" / "mlplat.yml").is_file()
    again = project.mlplat("ci", "workflow", "github")
    assert again.returncode == 2 and again.stderr.count("\n") == 1 and "--force" in again.stderr
    assert project.mlplat("ci", "workflow", "github", "--force").returncode == 0
    # no pyproject here: the Install step installs mlplat itself
    assert "pip install -q mlplat" in (project.root / ".github" / "workflows" / "mlplat.yml").read_text()


def test_init_writes_the_ci_file(project):
    p = project.mlplat("init", "churn-project", "--ci", "gitlab")
    assert p.returncode == 0, p.stdout + p.stderr
    root = project.root / "churn-project"
    assert ".gitlab-ci.yml" in p.stdout and (root / "conf" / "config.yaml").is_file()
    text = (root / ".gitlab-ci.yml").read_text()
    assert "mlplat ci deploy --base HEAD~1 --comment" in text and "pip install -q mlplat" in text
    check = subprocess.run([str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.gitlab-ci",
                            str(root / ".gitlab-ci.yml")], capture_output=True, text=True, timeout=120)
    assert check.returncode == 0, check.stdout + check.stderr
    # a second init refuses before writing anything, the CI file included
    (project.root / "other" / ".github" / "workflows").mkdir(parents=True)
    (project.root / "other" / ".github" / "workflows" / "mlplat.yml").write_text("mine")
    again = project.mlplat("init", "other", "--ci", "github")
    assert again.returncode == 1 and "never overwrites" in again.stderr and again.stderr.count("\n") == 1
    assert not (project.root / "other" / "conf").exists()
