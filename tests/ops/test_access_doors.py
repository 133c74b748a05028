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
