"""`mlplat bot --scheduler`: the scheduled jobs run inside the bot and post through Slack."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time

from tests.bot.slack_standin import SlackStandIn
from tests.conftest import REPO


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_embedded_scheduler_posts_its_report_to_slack(project):
    conf = project.root / "conf"
    shutil.copytree(REPO / "conf", conf)
    (conf / "schedule" / "default.yaml").write_text(
        "timezone: UTC\nmisfire_grace: 1m\nreports_dir: runs/reports\n"
        "jobs:\n  digest:\n    type: leaderboard_digest\n    trigger: {every: 2s}\n    params: {since: 1d, top: 3}\n")
    project.train("evaluation=fast")
    standin = SlackStandIn()
    env = project.env(SLACK_BOT_TOKEN="xoxb-test", SLACK_SIGNING_SECRET="secret",
                      MLPLAT_SLACK_API_URL=standin.base_url, MLPLAT_CONF_DIR=str(conf))
    proc = subprocess.Popen([sys.executable, "-m", "mlplat.cli", "bot", "--http", "--host", "127.0.0.1",
                             "--port", str(_free_port()), "--scheduler", "--set", "bot.channels.alerts=CALERTS",
                             "--set", "bot.per_channel_interval_s=0"],
                            cwd=project.root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and not any("Leaderboard digest" in t for t in standin.texts()):
            time.sleep(0.5)
            assert proc.poll() is None, proc.stdout.read()
        posts = [p for p in standin.of("chat.postMessage") if "Leaderboard digest" in str(p.get("text"))]
        assert posts and posts[0]["channel"] == "CALERTS"
        assert standin.of("files.completeUploadExternal")  # the digest file, attached in the thread
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        standin.close()
    runs = project.json("scheduler", "list")
    assert runs[0]["job"] == "digest" and runs[0]["last_status"] == "ok"
