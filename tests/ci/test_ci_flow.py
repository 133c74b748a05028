"""The CI story end to end: a pull request's workflow steps comment a verdict, the merge files a
promotion request, an approver approves, and `mlplat serve` serves the new version.

Runs the generated GitHub workflow's `run:` steps in order in a temporary git repository
(base commit + a pull-request commit changing a hyper-parameter) against the API stand-in.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import httpx
from repo_kit import git, make_repo, run_steps, set_C
from standin import StandIn

from mlplat import ops
from mlplat.ci.workflows import write_workflow
from mlplat.tracking.store import Store

TOKEN = "ghs_standinTOKEN"


def _env(tmp_path, **extra) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLPLAT_", "HYDRA_", "GITHUB_", "CI_", "GITLAB"))}
    env.update({"MLPLAT_STORE_URL": f"sqlite:///{tmp_path / 'store' / 'mlplat.db'}",
                "MLPLAT_ARTIFACTS": str(tmp_path / "store" / "artifacts"), "OMP_WAIT_POLICY": "PASSIVE"}, **extra)
    return env


def _cli(work, env, *args, actor=None, check=True):
    p = subprocess.run([sys.executable, "-m", "mlplat.cli", *args], cwd=work, capture_output=True, text=True,
                       timeout=600, env={**env, **({"MLPLAT_ACTOR": actor} if actor else {})})
    if check:
        assert p.returncode == 0, f"mlplat {' '.join(args)}: {p.stdout}\n{p.stderr}"
    return p


def _github(api, tmp_path, **extra) -> dict[str, str]:
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"pull_request": {"number": 7}}))
    return {"GITHUB_ACTIONS": "true", "GITHUB_API_URL": api.url, "GITHUB_REPOSITORY": "acme/churn",
            "GITHUB_SERVER_URL": "https://github.example", "GITHUB_EVENT_PATH": str(event),
            "GITHUB_BASE_REF": "main", "MLPLAT_ACTOR": "mlplat-ci", **extra}


def _assert_steps(steps, n):
    assert len(steps) == n and all(s.returncode == 0 for s in steps), \
        [(s.args, s.returncode, s.stdout[-800:], s.stderr[-800:]) for s in steps]


def test_pull_request_to_production(tmp_path):
    work = make_repo(tmp_path, C=0.01)
    workflow = write_workflow(work, "github")
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", "CI workflow")
    git(work, "push", "-q", "origin", "main")
    env = _env(tmp_path)
    store = Store.open(env["MLPLAT_STORE_URL"], env["MLPLAT_ARTIFACTS"])
    # production today: the weak model (C=0.01), deployed by CI and approved by hand
    first = _cli(work, env, "ci", "deploy", "--base", "HEAD", "experiment=ci_churn", actor="mlplat-ci")
    assert "registered ci_churn:1; promotion request" in first.stdout, first.stdout
    (req0,) = ops.list_approvals(actor="t", source="test", status="pending", store=store)
    _cli(work, env, "approve", req0["id"], actor="alice")

    # the pull request: a stronger C
    git(work, "checkout", "-q", "-b", "stronger")
    set_C(work, 1.0, "churn: less regularisation")
    git(work, "fetch", "-q", "origin")
    with StandIn(TOKEN) as api:
        steps = run_steps(workflow, "pull-request", work, {**env, **_github(api, tmp_path), "GITHUB_TOKEN": TOKEN})
        _assert_steps(steps, 4)  # install (cached), check, ci run, comment
        assert "no problems" in steps[1].stderr
        assert "beats production on the same holdout; all gates pass" in steps[2].stdout
        (comment,) = api.all_comments()
        body = comment["body"]
        assert body.startswith("<!-- mlplat-ci-report -->") and "all gates pass" in body
        assert "beats production on the same holdout" in body and "| beat_champion | ✅ pass |" in body
        assert "+  classifier_params: {C: 1.0, max_iter: 2000}" in body  # the changed config line
        assert (work / "ci-report" / "ci-report-ci_churn.png").stat().st_size > 1000  # the chart, an artifact

        # merged: the deploy job registers the candidate and files the promotion request
        git(work, "checkout", "-q", "main")
        git(work, "merge", "-q", "--no-ff", "stronger", "-m", "Merge pull request #7 from acme/stronger")
        deploy_env = {**env, "GITHUB_ACTIONS": "true", "GITHUB_REPOSITORY": "acme/churn", "GITHUB_REF": "refs/heads/main",
                      "GITHUB_API_URL": api.url, "GITHUB_TOKEN": TOKEN, "MLPLAT_ACTOR": "mlplat-ci"}
        steps = run_steps(workflow, "deploy", work, deploy_env)
        _assert_steps(steps, 2)
        assert "registered ci_churn:2 (PR #7); promotion request" in steps[1].stdout
        (req,) = ops.list_approvals(actor="t", source="test", status="pending", store=store)
        # ... and the pull request's report now names the request: they link to each other
        assert "updated comment" in steps[1].stdout
        (comment,) = api.all_comments()
        assert "all gates pass" in comment["body"] and f"promotion request `{req['id']}` to production is pending" \
            in comment["body"]
        assert (req["name"], req["version"], req["requester"], req["source"]) == ("ci_churn", 2, "mlplat-ci", "ci")
        ctx = req["evidence"]["context"]
        assert ctx["pr"] == 7 and ctx["pr_url"] == "https://github.example/acme/churn/pull/7"
        assert "beats production on the same holdout" in ctx["summary"]
        # the approval card in Slack shows the summary and the pull request
        from mlplat_bot.render import approval_blocks, as_text

        card = as_text("", approval_blocks(req))
        assert "https://github.example/acme/churn/pull/7" in card and "beats production" in card

        # four-eyes still holds for CI's requests; an approver approves
        own = _cli(work, env, "approve", req["id"], actor="mlplat-ci", check=False)
        assert own.returncode == 1 and "four-eyes" in own.stderr
        _cli(work, env, "approve", req["id"], actor="alice")

        # the service follows the alias
        port = _free_port()
        server = subprocess.Popen([sys.executable, "-m", "mlplat.cli", "serve", "ci_churn", "--port", str(port)],
                                  cwd=work, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            info = _wait_model(f"http://127.0.0.1:{port}", "ci_churn", server)
            assert info["version"] == 2
        finally:
            server.terminate()
            server.wait(20)

        # a second push that makes the model worse: the same comment is updated, the exit code is 1
        git(work, "checkout", "-q", "-b", "weaker")
        set_C(work, 0.0001, "churn: much more regularisation")
        git(work, "push", "-q", "origin", "main")
        git(work, "fetch", "-q", "origin")
        pr_env = {**env, **_github(api, tmp_path), "GITHUB_TOKEN": TOKEN}
        # (the check step already passed on this tree above)
        steps = run_steps(workflow, "pull-request", work, pr_env, only=("ci run",))
        assert steps[0].returncode == 1 and "gates FAIL: beat_champion" in steps[0].stdout
        # the comment step runs `if: always()`, so after the failure too
        steps = run_steps(workflow, "pull-request", work, pr_env, only=("ci comment",))
        assert steps[0].returncode == 0 and "updated comment" in steps[0].stdout
        (comment,) = api.all_comments()
        assert "a gate fails" in comment["body"] and "does not beat production" in comment["body"]
        # merged anyway: deploy registers nothing and says why
        git(work, "checkout", "-q", "main")
        git(work, "merge", "-q", "--no-ff", "weaker", "-m", "Merge pull request #8")
        steps = run_steps(workflow, "deploy", work, deploy_env)
        assert steps[-1].returncode == 1 and "gates FAIL" in steps[-1].stdout
    model = ops.show_model("ci_churn", store=store)
    assert [v["version"] for v in model["versions"]] == [2, 1] and model["aliases"] == {"production": 2}
    ci_runs = [r for r in ops.list_runs(store=store) if r["source"] == "ci"]
    assert len(ci_runs) == 5  # the first deploy, then per pull request: its run and the deploy's
    tags = ops.show_run(ci_runs[-2]["id"], store=store)["tags"]  # the first pull request's run
    assert tags["ci_pr"] == "7" and tags["ci_commit"] and tags["ci_pr_url"].endswith("/pull/7")


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_model(url: str, name: str, server) -> dict:
    deadline = time.time() + 60
    while time.time() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"mlplat serve exited: {server.stderr.read().decode()[-2000:]}")
        try:
            r = httpx.get(f"{url}/v1/models/{name}", timeout=2)
            if r.status_code == 200 and r.json().get("version"):
                return r.json()
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError("the service did not come up")
