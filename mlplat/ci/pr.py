"""The pull (merge) request a CI job runs for, from what GitHub Actions and GitLab CI put in the environment."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def pull_request(pr: int | None, env: dict[str, str]) -> dict[str, Any]:
    """{provider, number, url} of the pull/merge request this CI job runs for (number None: none)."""
    if env.get("GITHUB_ACTIONS") == "true" or env.get("GITHUB_REPOSITORY"):
        number = pr
        if number is None and env.get("GITHUB_EVENT_PATH"):
            try:
                event = json.loads(Path(env["GITHUB_EVENT_PATH"]).read_text())
            except (OSError, ValueError):
                event = {}
            number = (event.get("pull_request") or {}).get("number") or event.get("number")
        server = env.get("GITHUB_SERVER_URL", "https://github.com").rstrip("/")
        url = f"{server}/{env['GITHUB_REPOSITORY']}/pull/{number}" if number and env.get("GITHUB_REPOSITORY") else None
        return {"provider": "github", "number": int(number) if number else None, "url": url}
    if env.get("GITLAB_CI") == "true" or env.get("CI_API_V4_URL"):
        number = pr or env.get("CI_MERGE_REQUEST_IID")
        project = env.get("CI_MERGE_REQUEST_PROJECT_URL") or env.get("CI_PROJECT_URL")
        url = f"{project.rstrip('/')}/-/merge_requests/{number}" if number and project else None
        return {"provider": "gitlab", "number": int(number) if number else None, "url": url}
    return {"provider": None, "number": pr, "url": None}
