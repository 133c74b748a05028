"""One real bolt app in HTTP mode on 127.0.0.1, a Slack Web API stand-in, a scratch store.

Shared by the module's tests (starting a store and composing the config costs seconds);
each test uses its own trigger ids, request ids and model names, so they do not interfere.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from slack_sdk import WebClient

from tests.bot.slack_standin import SlackStandIn, action_body, command_body, event_body, post, signed

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
BOT_OVERRIDES = [
    # conf/access: UEXP and UAPP1 train and request; UAPP1 and the group SAPPROVERS approve
    "access.roles.ml-engineer=['*','slack:UEXP','slack:UAPP1','slack-group:SAPPROVERS']",
    "access.roles.ml-lead=[alice,carol,'slack:UAPP1','slack-group:SAPPROVERS']",
    "access.roles.admin=['slack:UADMIN']",
    "bot.channels.approvals=CAPPROVALS",
    "bot.channels.alerts=CALERTS",
    "bot.per_channel_interval_s=0",
    "bot.progress_every_s=0.3",
    "bot.alerts.cooldown_s=3600",
    "bot.alerts.retrain.experiment=demo",
    "bot.alerts.retrain.overrides=['model=logreg','evaluation=fast']",
]


@dataclass
class Harness:
    root: Path
    standin: SlackStandIn
    runtime: object
    url: str

    def command(self, user: str, text: str, *, trigger_id: str | None = None, retry_num: int | None = None,
                timestamp: int | None = None, secret: str = SECRET, wait: bool = True) -> tuple[int, str]:
        body = command_body(user, text, trigger_id=trigger_id)
        headers = signed(secret, body, timestamp=timestamp, content_type="application/x-www-form-urlencoded",
                         retry_num=retry_num)
        status, text_out = post(self.url, body, headers)
        if wait:
            self.idle()
        return status, text_out

    def click(self, user: str, action_id: str, value: str, *, channel: str, message_ts: str,
              wait: bool = True) -> int:
        body = action_body(user, action_id, value, channel=channel, message_ts=message_ts)
        status, _ = post(self.url, body, signed(SECRET, body, content_type="application/x-www-form-urlencoded"))
        if wait:
            self.idle()
        return status

    def event(self, event: dict, event_id: str) -> int:
        body = event_body(event, event_id)
        status, _ = post(self.url, body, signed(SECRET, body, content_type="application/json"))
        self.idle()
        return status

    def idle(self, timeout: float = 120) -> None:
        time.sleep(0.05)  # bolt hands the listener to its own executor; let it submit to our pool
        assert self.runtime.pool.wait_idle(timeout), "bot work did not finish in time"

    def audit(self, action: str, actor: str | None = None) -> list[dict]:
        from mlplat import ops

        rows = ops.audit_log(action=action, limit=500)
        return [r for r in rows if actor is None or r["actor"] == actor]


@pytest.fixture(scope="module")
def slack(tmp_path_factory):
    root = tmp_path_factory.mktemp("bot")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLPLAT_STORE_URL", f"sqlite:///{root / 'runs' / 'mlplat.db'}")
        mp.setenv("MLPLAT_ARTIFACTS", str(root / "runs" / "artifacts"))
        for name in ("MLPLAT_ACTOR", "MLPLAT_SOURCE", "MLPLAT_CONF_DIR"):
            mp.delenv(name, raising=False)
        from mlplat_bot.app import create_app, serve_in_thread
        from mlplat_bot.settings import load

        settings = load([*BOT_OVERRIDES, f"serving.prediction_log.dir={root / 'predictions'}"])
        standin = SlackStandIn(groups={"SAPPROVERS": ["UAPP2"]})
        client = WebClient(token="xoxb-test", base_url=standin.base_url)
        runtime = create_app(settings, token="xoxb-test", signing_secret=SECRET, client=client, cwd=str(root))
        server = serve_in_thread(runtime)
        yield Harness(root, standin, runtime, f"http://127.0.0.1:{server.server_port}/slack/events")
        server.shutdown()
        runtime.pool.shutdown()
        standin.close()
