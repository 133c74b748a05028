"""The slack-bolt app: `/mlplat`, the buttons, App Home; Socket Mode and HTTP mode.

Every listener acknowledges first and hands the work to the bot's pool, so Slack's 3 s
limit is met whatever the command costs (the ack path touches no database and no Hydra:
the exactly-once claim happens in the worker, where a retried delivery is dropped).
HTTP mode serves bolt through its WSGI adapter on a threading wsgiref server (bolt's own
``app.start`` is a single-threaded development server).
"""

from __future__ import annotations

import logging
import os
import re
import threading
from dataclasses import dataclass
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from mlplat_bot.commands import Bot, Invocation
from mlplat_bot.identity import GroupCache, Identity
from mlplat_bot.notifier import SlackNotifier
from mlplat_bot.outbox import Outbox
from mlplat_bot.replies import SlackReply
from mlplat_bot.settings import BotSettings
from mlplat_bot.worker import Pool
from slack_bolt import App
from slack_sdk import WebClient

log = logging.getLogger("mlplat.bot")
ACTIONS = re.compile(r"^(approval_approve|approval_reject|alert_ack|alert_retrain)$")


@dataclass
class Runtime:
    app: App
    bot: Bot
    outbox: Outbox
    pool: Pool
    notifier: SlackNotifier


def _group_fetcher(client: WebClient):
    def fetch(group: str) -> list[str]:
        return list(client.usergroups_users_list(usergroup=group).get("users") or [])

    return fetch


def create_app(settings: BotSettings, *, token: str, signing_secret: str | None = None,
               client: WebClient | None = None, store=None, cwd: str | None = None) -> Runtime:
    """The bolt App wired to a Bot. ``signing_secret`` None: Socket Mode (no request signatures)."""
    client = client or WebClient(token=token, base_url=os.environ.get("MLPLAT_SLACK_API_URL")
                                 or WebClient.BASE_URL)
    outbox = Outbox(client, interval_s=settings.per_channel_interval_s, max_retries=settings.max_retries)
    pool = Pool(settings.workers)
    identity = Identity(settings, GroupCache(_group_fetcher(client), settings.group_cache_s))
    bot = Bot(settings, identity, pool, store=store, cwd=cwd)
    app = App(token=token, client=client, signing_secret=signing_secret,
              request_verification_enabled=signing_secret is not None, token_verification_enabled=False,
              ignoring_self_events_enabled=True)

    @app.command("/mlplat")
    def on_command(ack, body: dict[str, Any]) -> None:
        text = (body.get("text") or "").strip()
        ack(f"`/mlplat {text}`: working on it" if text else None)
        user, channel = body["user_id"], body["channel_id"]
        # a retry of a slow-acked command resends the same body, so the same trigger id
        key = f"cmd:{body['trigger_id']}" if body.get("trigger_id") else None
        pool.submit(bot.handle_command, Invocation(user, channel, text, SlackReply(outbox, channel, user), key))

    @app.action(ACTIONS)
    def on_action(ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        ack()
        user = body["user"]["id"]
        channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id", "")
        ts = (body.get("message") or {}).get("ts") or (body.get("container") or {}).get("message_ts")
        inv = Invocation(user, channel, f"[button {action['action_id']} {action.get('value', '')[:80]}]",
                         SlackReply(outbox, channel, user))
        pool.submit(bot.handle_action, action["action_id"], action.get("value", ""), inv, ts)

    @app.event("app_home_opened")
    def on_home(body: dict[str, Any], event: dict[str, Any]) -> None:
        if event.get("tab", "home") == "home":
            pool.submit(publish_home, bot, outbox, event["user"], body.get("event_id"))

    return Runtime(app, bot, outbox, pool, SlackNotifier(bot, outbox))


def publish_home(bot: Bot, outbox: Outbox, user: str, event_id: str | None) -> None:
    from mlplat_bot import dedup

    # Events API retries carry X-Slack-Retry-Num and the same event_id
    if event_id and not dedup.claim(bot.store, f"event:{event_id}", kind="app_home", user=user):
        return
    outbox.publish_home(user, bot.home_view(user))


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        log.debug("http: " + format, *args)


def http_server(runtime: Runtime, host: str, port: int, path: str = "/slack/events"):
    """A threading WSGI server for HTTP mode (``serve_forever`` to run; port 0 picks a free one)."""
    from slack_bolt.adapter.wsgi import SlackRequestHandler

    handler = SlackRequestHandler(runtime.app, path=path)

    def wsgi(environ, start_response):
        if environ.get("PATH_INFO") == "/healthz":
            start_response("200 OK", [("content-type", "text/plain")])
            return [b"ok"]
        return handler(environ, start_response)

    return make_server(host, port, wsgi, server_class=_ThreadingWSGIServer, handler_class=_QuietHandler)


def serve_in_thread(runtime: Runtime, host: str = "127.0.0.1", port: int = 0):
    """Start HTTP mode in a daemon thread; returns the server (``server.server_port``, ``shutdown()``)."""
    server = http_server(runtime, host, port)
    threading.Thread(target=server.serve_forever, name="mlplat-bot-http", daemon=True).start()
    return server


def run_socket_mode(runtime: Runtime, app_token: str) -> None:
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    SocketModeHandler(runtime.app, app_token).start()
