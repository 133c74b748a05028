"""One comment per pull request, created or updated: GitHub's REST API or GitLab's (httpx).

The comment is found by a hidden marker line, so every push updates the same comment
instead of adding one. Server errors (5xx) and dropped connections are retried with
exponential backoff; 401/403/404 end in one line naming the variable to set. The token is
sent only in its header: it is never printed, logged or written anywhere.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any

import httpx

from mlplat.ci.pr import pull_request
from mlplat.errors import MlplatError

MARKER = "<!-- mlplat-ci-report -->"
# GitHub refuses comment bodies over 65,536 characters; GitLab notes allow 1,000,000
MAX_BODY = 65000
RETRIES = 4
BACKOFF_S = 0.5  # first retry delay, doubled each time; MLPLAT_CI_BACKOFF_S changes it (tests)
TIMEOUT_S = 20.0
MAX_PAGES = 20


class CommentError(MlplatError):
    """The pull request comment could not be posted."""


@dataclass
class Api:
    provider: str
    base: str  # API root, no trailing slash
    token: str
    token_var: str
    pr: int
    list_path: str
    create_path: str
    update_path: str  # with {id}
    update_method: str
    vars: dict[str, str]  # what each part came from, for messages

    def headers(self) -> dict[str, str]:
        if self.provider == "github":
            return {"Authorization": f"Bearer {self.token}", "Accept": "application/vnd.github+json",
                    "X-GitHub-Api-Version": "2022-11-28", "User-Agent": "mlplat-ci"}
        return {"PRIVATE-TOKEN": self.token, "User-Agent": "mlplat-ci"}


def _need(env: dict[str, str], name: str, why: str) -> str:
    value = (env.get(name) or "").strip()
    if not value:
        raise CommentError(f"{name} is not set: {why}")
    return value


def detect(provider: str | None, env: dict[str, str]) -> str:
    if provider:
        if provider not in ("github", "gitlab"):
            raise CommentError(f"unknown provider {provider!r}: use github or gitlab")
        return provider
    if env.get("GITHUB_ACTIONS") == "true" or env.get("GITHUB_REPOSITORY"):
        return "github"
    if env.get("GITLAB_CI") == "true" or env.get("CI_API_V4_URL"):
        return "gitlab"
    raise CommentError("cannot tell GitHub from GitLab: set GITHUB_REPOSITORY (GitHub Actions sets it) or "
                       "CI_API_V4_URL (GitLab CI sets it), or pass --provider github|gitlab")


def api_for(provider: str | None, pr: int | None, env: dict[str, str]) -> Api:
    kind = detect(provider, env)
    if kind == "github":
        base = env.get("GITHUB_API_URL", "https://api.github.com").rstrip("/")
        repo = _need(env, "GITHUB_REPOSITORY", "set it to OWNER/REPO (GitHub Actions sets it)")
        token = _need(env, "GITHUB_TOKEN", "pass the workflow's token as env GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }}"
                                           " (with permissions: pull-requests: write)")
        number = pr or pull_request(None, env)["number"]
        if not number:
            raise CommentError("no pull request number: this is not a pull_request event (GITHUB_EVENT_PATH has "
                               "none); pass --pr NUMBER")
        return Api("github", base, token, "GITHUB_TOKEN", int(number),
                   f"/repos/{repo}/issues/{number}/comments", f"/repos/{repo}/issues/{number}/comments",
                   f"/repos/{repo}/issues/comments/{{id}}", "PATCH",
                   {"api": "GITHUB_API_URL", "project": "GITHUB_REPOSITORY", "pr": "--pr or GITHUB_EVENT_PATH"})
    base = _need(env, "CI_API_V4_URL", "set it to the GitLab API root, e.g. https://gitlab.com/api/v4 (GitLab CI "
                                       "sets it)").rstrip("/")
    project = _need(env, "CI_PROJECT_ID", "set it to the project id (GitLab CI sets it)")
    token = _need(env, "GITLAB_TOKEN", "create a project access token with the api scope and add it as the masked "
                                       "CI/CD variable GITLAB_TOKEN")
    number = pr or env.get("CI_MERGE_REQUEST_IID")
    if not number:
        raise CommentError("CI_MERGE_REQUEST_IID is not set: run the job in a merge request pipeline "
                           "(rules: if: $CI_PIPELINE_SOURCE == \"merge_request_event\") or pass --pr IID")
    path = f"/projects/{project.replace('/', '%2F')}"  # a numeric id, or group/name URL-encoded
    return Api("gitlab", base, token, "GITLAB_TOKEN", int(number), f"{path}/merge_requests/{number}/notes",
               f"{path}/merge_requests/{number}/notes", f"{path}/merge_requests/{number}/notes/{{id}}", "PUT",
               {"api": "CI_API_V4_URL", "project": "CI_PROJECT_ID", "pr": "--pr or CI_MERGE_REQUEST_IID"})


def _refusal(api: Api, status: int, what: str) -> CommentError:
    if status == 401:
        return CommentError(f"{api.provider} answered 401 (bad credentials) to {what}: {api.token_var} is wrong or "
                            f"expired; set {api.token_var} to a valid token")
    if status == 403:
        return CommentError(f"{api.provider} answered 403 (forbidden) to {what}: the token in {api.token_var} may "
                            "not write comments; give it "
                            + ("pull-requests: write" if api.provider == "github" else "the api scope")
                            + f" and set {api.token_var} again")
    return CommentError(f"{api.provider} answered 404 to {what}: no pull request {api.pr} in that project, or the "
                        f"token cannot see it; check {api.vars['project']}, {api.vars['pr']} and {api.vars['api']}")


def _call(client: httpx.Client, api: Api, method: str, path: str, what: str, **kw: Any) -> httpx.Response:
    delay = float(os.environ.get("MLPLAT_CI_BACKOFF_S") or BACKOFF_S)
    last = ""
    for attempt in range(RETRIES + 1):
        try:
            resp = client.request(method, api.base + path, headers=api.headers(), **kw)
        except httpx.TransportError as exc:
            last = f"connection failed ({type(exc).__name__})"
        else:
            if resp.status_code in (401, 403, 404):
                raise _refusal(api, resp.status_code, what)
            if resp.status_code < 500 and resp.status_code != 429:
                if resp.status_code >= 400:
                    raise CommentError(f"{api.provider} answered {resp.status_code} to {what}: "
                                       f"{resp.text[:200].strip()}")
                return resp
            last = f"HTTP {resp.status_code}"
        if attempt < RETRIES:
            time.sleep(delay)
            delay *= 2
    raise CommentError(f"{api.provider} API at {api.base} failed {RETRIES + 1} times for {what} (last: {last}); "
                       "try again later or check the API URL")


def _find(client: httpx.Client, api: Api, marker: str) -> dict[str, Any] | None:
    for page in range(1, MAX_PAGES + 1):
        resp = _call(client, api, "GET", api.list_path, "listing the comments", params={"per_page": 100, "page": page})
        items = resp.json()
        for item in items:
            if marker in str(item.get("body") or ""):
                return item
        if len(items) < 100:
            return None
    return None


def body_with_marker(body: str, marker: str = MARKER) -> str:
    text = body if marker in body else f"{marker}\n{body}"
    if len(text) > MAX_BODY:
        text = text[:MAX_BODY - 80] + "\n\n... (report cut at the comment size limit; see the CI artifacts)"
    return text


def upsert(body: str, *, provider: str | None, pr: int | None, env: dict[str, str], marker: str = MARKER,
           append: bool = False) -> dict[str, Any]:
    """Update the comment carrying ``marker``, or create it: {action, id, url, provider, pr}.

    ``append``: add ``body`` below the comment's text instead of replacing it (deploy adds the
    promotion request it filed to the pull request's report).
    """
    api = api_for(provider, pr, env)
    with httpx.Client(timeout=TIMEOUT_S, follow_redirects=False) as client:
        found = _find(client, api, marker)
        if found is not None:
            text = f"{found.get('body') or ''}\n\n{body}" if append else body
            resp = _call(client, api, api.update_method, api.update_path.format(id=found["id"]), "updating the comment",
                         json={"body": body_with_marker(text, marker)})
            action = "updated"
        else:
            resp = _call(client, api, "POST", api.create_path, "creating the comment",
                         json={"body": body_with_marker(body, marker)})
            action = "created"
    data = resp.json()
    return {"action": action, "id": data.get("id"), "url": data.get("html_url") or data.get("web_url"),
            "provider": api.provider, "pr": api.pr}
