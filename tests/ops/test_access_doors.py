"""The one permission check at real doors: the CLI and CI (`mlplat train` refused before any
job, one line naming the roles and the file); Slack's is in tests/bot/test_bot_http.py."""

from __future__ import annotations

import json

import pytest


@pytest.mark.parametrize(("actor", "source"), [("bob", "cli"), ("mlplat-ci", "ci")])
def test_train_is_refused_before_any_job_for_an_identity_without_the_role(project, actor, source):
    proc = project.train("evaluation=fast", "access.roles.ml-engineer=[alice]", check=False,
                         MLPLAT_ACTOR=actor, MLPLAT_SOURCE=source)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr
    assert f"'{actor}' may not train: it needs one of the roles ml-engineer (operations.train)" in lines[0]
    assert "conf/access/default.yaml" in lines[0]
    assert json.loads(project.mlplat("runs", "list", "--format", "json", check=True).stdout) == []


def test_scheduler_run_is_refused_before_the_job_for_an_identity_without_the_role(project):
    """`mlplat scheduler run` goes through the same check (operation schedule), with the project's
    own roles table: a refusal is one line and the job never runs (no store is created)."""
    (project.root / "pyproject.toml").write_text("[tool.mlplat]\n")
    (project.root / "conf" / "access").mkdir(parents=True)
    (project.root / "conf" / "access" / "default.yaml").write_text(
        "roles: {ml-engineer: [alice], admin: []}\noperations: {schedule: [ml-engineer]}\n")
    proc = project.mlplat("scheduler", "run", "audit_checkpoint", MLPLAT_ACTOR="bob")
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 1 and len(lines) == 1, proc.stderr  # as the registry's refusals
    assert "'bob' may not run the schedule job audit_checkpoint" in lines[0]
    assert str(project.root / "conf" / "access" / "default.yaml") in lines[0]
    assert not project.db.exists()
    allowed = project.mlplat("scheduler", "run", "audit_checkpoint", MLPLAT_ACTOR="alice")
    assert "may not" not in allowed.stderr, allowed.stderr
