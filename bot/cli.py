"""`mlplat bot --socket | --http --port N` (the Slack bot) and `mlplat chat [--as USER]`.

Registered with the `mlplat` command through the ``mlplat.commands`` entry point
(pyproject.toml), so the engine package never imports the bot. These commands only parse
arguments and start the bot, with one clear line when a token is missing or malformed.
"""

from __future__ import annotations

import argparse
import logging
import sys


def register(sub) -> None:
    p = sub.add_parser("bot", help="run the Slack bot (Socket Mode or HTTP mode)")
    mode = p.add_mutually_exclusive_group(required=True)
    mode.add_argument("--socket", action="store_true", help="Socket Mode: needs SLACK_BOT_TOKEN and SLACK_APP_TOKEN")
    mode.add_argument("--http", action="store_true", help="HTTP mode: needs SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET")
    p.add_argument("--host", default="0.0.0.0", help="HTTP mode: address to listen on (default 0.0.0.0)")
    p.add_argument("--port", type=int, default=3000, help="HTTP mode: port (default 3000; Slack posts to /slack/events)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="overrides",
                   help="config override for this bot, e.g. bot.channels.approvals=C0123 (repeatable)")
    p.add_argument("--scheduler", action="store_true",
                   help="also run the jobs of conf/schedule in this process (reports and alerts go to Slack)")
    p.set_defaults(handler=cmd_bot)
    p = sub.add_parser("chat", help="the Slack bot's commands in this terminal (no Slack needed)")
    p.add_argument("--as", dest="user", metavar="USER", help="act as this user id (default: bot.chat_user or the OS user)")
    p.add_argument("-c", "--command", action="append", default=[], metavar="TEXT",
                   help="run this command and exit (repeatable); otherwise read lines from stdin")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="overrides",
                   help="config override, e.g. access.roles.ml-engineer=[slack:U0123] (repeatable)")
    p.set_defaults(handler=cmd_chat)


def cmd_bot(args: argparse.Namespace) -> int:
    from mlplat.extras import require

    require("slack", "`mlplat bot`")
    from mlplat_bot import settings as bot_settings
    from mlplat_bot.app import create_app

    # acks run on the request thread while workers answer earlier commands in the same
    # interpreter: a shorter GIL switch interval (default 5 ms) lets an ack through sooner
    sys.setswitchinterval(0.0005)
    mode = "socket" if args.socket else "http"
    tokens = bot_settings.tokens_for(mode)  # before anything slow: a bad token is the first line seen
    settings = bot_settings.load(args.overrides)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    runtime = create_app(settings, token=tokens["bot"], signing_secret=tokens.get("signing_secret"))
    from mlplat.notify import FanOut, LogFileNotifier, set_notifier

    set_notifier(FanOut(runtime.notifier, LogFileNotifier()))
    scheduler = None
    if args.scheduler:
        from mlplat.scheduling.runner import start

        # after set_notifier: every scheduled job asks for the current notifier when it runs
        scheduler = start(blocking=False)
        print(f"mlplat bot: scheduler running {len(scheduler.get_jobs())} job(s)", file=sys.stderr)
    try:
        _serve(runtime, mode, tokens, args)
    finally:
        if scheduler is not None:
            scheduler.shutdown(wait=False)
    return 0


def _serve(runtime, mode: str, tokens: dict, args: argparse.Namespace) -> None:
    from mlplat_bot.app import http_server, run_socket_mode

    if mode == "socket":
        print("mlplat bot: Socket Mode, connecting to Slack", file=sys.stderr)
        run_socket_mode(runtime, tokens["app"])
    else:
        server = http_server(runtime, args.host, args.port)
        print(f"mlplat bot: HTTP mode on http://{args.host}:{server.server_port}/slack/events", file=sys.stderr)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass


def cmd_chat(args: argparse.Namespace) -> int:
    from mlplat.extras import require

    require("slack", "`mlplat chat`")
    from mlplat_bot import settings as bot_settings
    from mlplat_bot.chat import ChatSession, interactive_lines

    from mlplat import ops

    settings = bot_settings.load(args.overrides)
    user = args.user or settings.chat_user or ops.os_user()
    session = ChatSession(settings, user)
    if args.command:
        session.run(args.command, prompt=False)
    elif sys.stdin.isatty():
        session.run(interactive_lines(), prompt=True)
    else:
        session.run(sys.stdin, prompt=False)
    return 0
