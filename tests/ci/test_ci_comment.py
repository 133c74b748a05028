"""`mlplat ci comment` against a stand-in for GitHub's and GitLab's APIs (real HTTP on 127.0.0.1)."""

from __future__ import annotations

import json

import pytest
from standin import StandIn

TOKEN = "ghp_secretTOKEN123"


@pytest.fixture
def api():
    with StandIn(TOKEN) as s:
        yield s


def _github_env(api, tmp_path, **extra):
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"pull_request": {"number": 7}}))
    return {"GITHUB_ACTIONS": "true", "GITHUB_API_URL": api.url, "GITHUB_REPOSITORY": "acme/churn",
            "GITHUB_EVENT_PATH": str(event), "GITHUB_TOKEN": TOKEN, "MLPLAT_CI_BACKOFF_S": "0.01", **extra}


def _report(tmp_path, text="## mlplat CI: report one"):
    path = tmp_path / "ci-report.md"
    path.write_text(f"<!-- mlplat-ci-report -->\n{text}\n")
    return path


def test_github_creates_then_updates_one_comment(project, api, tmp_path):
    env = _github_env(api, tmp_path)
    first = project.mlplat("ci", "comment", str(_report(tmp_path)), **env)
    assert first.returncode == 0, first.stderr
    assert "created comment" in first.stdout
    second = project.mlplat("ci", "comment", str(_report(tmp_path, "## mlplat CI: report two")), **env)
    assert second.returncode == 0 and "updated comment" in second.stdout
    comments = api.all_comments()
    assert len(comments) == 1 and "report two" in comments[0]["body"]
    shapes = [(r["method"], r["path"]) for r in api.requests]
    assert shapes == [("GET", "/repos/acme/churn/issues/7/comments"), ("POST", "/repos/acme/churn/issues/7/comments"),
                      ("GET", "/repos/acme/churn/issues/7/comments"),
                      ("PATCH", f"/repos/acme/churn/issues/comments/{comments[0]['id']}")]
    post = api.requests[1]
    assert post["headers"]["Authorization"] == f"Bearer {TOKEN}"
    assert post["headers"]["Accept"] == "application/vnd.github+json"
    assert post["headers"]["X-GitHub-Api-Version"] == "2022-11-28"
    assert set(post["json"]) == {"body"} and post["json"]["body"].startswith("<!-- mlplat-ci-report -->")
    assert api.requests[0]["query"]["per_page"] == ["100"]
    for p in (first, second):
        assert TOKEN not in p.stdout + p.stderr


def test_gitlab_note_create_and_update(project, api, tmp_path):
    env = {"GITLAB_CI": "true", "CI_API_V4_URL": api.url, "CI_PROJECT_ID": "42", "CI_MERGE_REQUEST_IID": "7",
           "GITLAB_TOKEN": TOKEN}
    for text in ("one", "two"):
        p = project.mlplat("ci", "comment", str(_report(tmp_path, text)), **env)
        assert p.returncode == 0, p.stderr
    assert [(r["method"], r["path"]) for r in api.requests][-1][0] == "PUT"
    assert api.requests[1]["path"] == "/projects/42/merge_requests/7/notes"
    assert api.requests[1]["headers"]["PRIVATE-TOKEN"] == TOKEN and "Authorization" not in api.requests[1]["headers"]
    assert len(api.all_comments()) == 1 and "two" in api.all_comments()[0]["body"]


def test_server_errors_are_retried(project, api, tmp_path):
    api.fail = [502, 503]
    p = project.mlplat("ci", "comment", str(_report(tmp_path)), **_github_env(api, tmp_path))
    assert p.returncode == 0, p.stderr
    assert [r["method"] for r in api.requests] == ["GET", "GET", "GET", "POST"]
    assert len(api.all_comments()) == 1


def test_persistent_server_errors_end_in_one_line(project, api, tmp_path):
    api.fail = [500] * 10
    p = project.mlplat("ci", "comment", str(_report(tmp_path)), **_github_env(api, tmp_path))
    assert p.returncode == 2 and p.stderr.count("\n") == 1 and "failed 5 times" in p.stderr
    assert not api.all_comments()


@pytest.mark.parametrize("case, env_change, expected", [
    ("bad token", {"GITHUB_TOKEN": "bad-tok-xyz"}, "401"),
    ("missing token", {"GITHUB_TOKEN": ""}, "GITHUB_TOKEN is not set"),
    ("unknown pull request", {"GITHUB_EVENT_PATH": ""}, "404"),
])
def test_refusals_name_the_variable(project, api, tmp_path, case, env_change, expected):
    env = _github_env(api, tmp_path, **env_change)
    args = ["ci", "comment", str(_report(tmp_path))] + (["--pr", "9"] if case == "unknown pull request" else [])
    p = project.mlplat(*args, **env)
    assert p.returncode == 2, (case, p.stdout, p.stderr)
    assert p.stderr.count("\n") == 1 and expected in p.stderr and "Traceback" not in p.stderr
    assert ("GITHUB_TOKEN" in p.stderr) if case != "unknown pull request" else ("GITHUB_REPOSITORY" in p.stderr)
    assert TOKEN not in p.stderr and "bad-tok-xyz" not in p.stderr


def test_gitlab_401_names_gitlab_token(project, api, tmp_path):
    env = {"CI_API_V4_URL": api.url, "CI_PROJECT_ID": "42", "CI_MERGE_REQUEST_IID": "7", "GITLAB_TOKEN": "nope"}
    p = project.mlplat("ci", "comment", str(_report(tmp_path)), **env)
    assert p.returncode == 2 and "GITLAB_TOKEN" in p.stderr and p.stderr.count("\n") == 1
