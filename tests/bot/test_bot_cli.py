"""`mlplat bot` startup errors and `mlplat chat`, through the real CLI in a subprocess."""

from __future__ import annotations

import json


def test_bot_names_a_malformed_token_in_one_line(project):
    proc = project.mlplat("bot", "--socket", SLACK_BOT_TOKEN="xoxp-123", SLACK_APP_TOKEN="xapp-1")
    assert proc.returncode == 1
    assert proc.stderr.strip() == ("error: SLACK_BOT_TOKEN is malformed: it must start with 'xoxb-' (got 'xoxp-'); "
                                   "the Bot User OAuth Token from the app's settings page")
    proc = project.mlplat("bot", "--http", SLACK_BOT_TOKEN="xoxb-1")
    assert proc.returncode == 1 and "SLACK_SIGNING_SECRET is not set" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_chat_runs_the_same_commands_in_a_terminal(project):
    proc = project.mlplat("chat", "--as", "UCHAT", "--set", "access.roles.ml-engineer=['slack:UCHAT']",
                          "-c", "run demo model=logreg evaluation=fast", "-c", "runs 1",
                          "-c", "run demo tracking.url=sqlite:///elsewhere.db", check=True)
    out = proc.stdout
    assert "started by <@UCHAT>" in out and ":white_check_mark: run" in out and "Latest 1 runs" in out
    assert "refused `tracking.url=sqlite:///elsewhere.db`" in out
    audit = project.json("audit", "log", "--action", "bot.")
    assert {(a["action"], a["actor"], a["source"]) for a in audit} >= {("bot.command", "UCHAT", "slack"),
                                                                      ("bot.refused", "UCHAT", "slack")}
    assert json.loads(next(a for a in audit if a["action"] == "bot.refused")["payload"])["reason"]
