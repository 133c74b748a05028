"""`/mlplat ...`, the buttons and the alerts: what each does, whatever the transport.

The Slack app (bot/app.py) and the terminal session (bot/chat.py) both hand an
``Invocation`` to ``Bot.handle_command`` from a background worker, with a ``Reply`` that
knows how to answer there. Every command, refusal and error is written to the audit
trail with the Slack user id and source "slack"; decisions are audited by the registry.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from mlplat_bot import dedup, parse, render
from mlplat_bot.actions import ActionsMixin
from mlplat_bot.identity import SOURCE, Identity
from mlplat_bot.invocation import (
    Invocation,
    NotAvailable,
    Reply,
)
from mlplat_bot.settings import BotSettings
from mlplat_bot.worker import COMPOSE_LOCK, Pool, SweepProcess, train_in_process

from mlplat.errors import MlplatError, NotFound, RegistryError

log = logging.getLogger("mlplat.bot")


class Bot(ActionsMixin):
    def __init__(self, settings: BotSettings, identity: Identity, pool: Pool, *, store=None, cwd: str | None = None):
        self.settings, self.identity, self.pool = settings, identity, pool
        self._store, self.cwd = store, cwd

    @property
    def store(self):
        if self._store is None:
            from mlplat import ops

            self._store = ops.open_store(create=True)  # the bot records its events and audit entries
        return self._store

    # -- audit -------------------------------------------------------------------------
    def audit(self, user: str, action: str, object_id: str, payload: dict[str, Any]) -> None:
        from mlplat.tracking import audit

        with self.store.write() as conn:
            audit.append(conn, actor=user, source=SOURCE, action=action, object_type="slack", object_id=object_id,
                         payload=payload)

    # -- commands ----------------------------------------------------------------------
    def handle_command(self, inv: Invocation) -> None:
        """Run one `/mlplat` command (in a worker, after the ack). Never raises."""
        if inv.key and not dedup.claim(self.store, inv.key, kind="command", user=inv.user,
                                       detail={"text": inv.text}):
            log.info("duplicate delivery %s of %r ignored", inv.key, inv.text)
            return
        try:
            cmd = parse.split(inv.text)
            self.audit(inv.user, "bot.command", inv.channel, {"text": inv.text, "command": cmd.name})
            handler = getattr(self, f"cmd_{cmd.name}", None)
            if handler is None:
                raise parse.Refused(f"unknown command {cmd.name!r}: try `/mlplat help`")
            handler(inv, cmd.args)
        except parse.Refused as exc:
            self.audit(inv.user, "bot.refused", inv.channel, {"text": inv.text, "reason": str(exc)})
            inv.reply.whisper(f":no_entry: {exc}")
        except MlplatError as exc:
            self.audit(inv.user, "bot.error", inv.channel, {"text": inv.text, "error": str(exc)})
            inv.reply.whisper(f":x: {exc}")
        except Exception as exc:  # a bug must still answer the user, once, without a traceback in chat
            log.exception("command %r failed", inv.text)
            inv.reply.whisper(f":x: internal error ({type(exc).__name__}); the bot's log has the details")

    def _require(self, inv: Invocation, operation: str, what: str) -> None:
        """The one permission check (mlplat.ops.access, conf/access) for this Slack user."""
        try:
            self.identity.require(inv.user, operation, what)
        except MlplatError as exc:
            raise parse.Refused(str(exc)) from exc

    def cmd_help(self, inv: Invocation, args: list[str]) -> None:
        inv.reply.say("mlplat commands", render.help_blocks())

    def _groups(self, group: str) -> list[str]:
        from mlplat.config.compose import group_options

        return group_options(group)

    def _overrides(self, args: list[str], *, single_run: bool = False) -> list[str]:
        return parse.check_overrides(args, self.settings.allow, group_options=self._groups, single_run=single_run)

    def _first(self, args: list[str], groups: tuple[str, ...], usage: str) -> list[str]:
        """A leading bare name becomes ``<group>=<name>`` for the first group that has that option."""
        if not args or "=" in args[0]:
            return args
        name = args[0]
        for group in groups:
            if name in self._groups(group):
                return [f"{group}={name}", *args[1:]]
        options = sorted({o for g in groups for o in self._groups(g)})
        raise parse.Refused(f"{name!r} is not a known {' or '.join(groups)}: choose one of {', '.join(options)} "
                            f"({usage})")

    def cmd_run(self, inv: Invocation, args: list[str]) -> None:
        self._require(inv, "train", "start runs")
        # a sweep value (a,b; range(); interval()) is refused by the rule `mlplat train` applies
        overrides = self._overrides(self._first(args, ("experiment",), "/mlplat run <experiment> [key=value ...]"),
                                    single_run=True)
        self.pool.submit(self.train_job, inv, overrides)

    def train_job(self, inv: Invocation, overrides: list[str], *, register_as: str | None = None,
                  promote_to: str | None = None) -> str | None:
        label = " ".join(overrides) or "defaults"
        parent = inv.reply.say(f":hourglass_flowing_sand: run `{label}` started by <@{inv.user}>")
        try:
            plain, outcome = train_in_process(overrides, actor=inv.user, source=SOURCE)
        except MlplatError as exc:
            self.audit(inv.user, "bot.error", inv.channel, {"text": inv.text, "error": str(exc)})
            inv.reply.say(f":x: {exc}", thread_ts=parent)
            if parent:
                inv.reply.update(inv.channel, parent, f":x: run `{label}` failed: {exc}")
            return None
        from mlplat import ops

        run = ops.show_run(outcome.run_id)
        value = f"{outcome.primary_value:.4f}" if outcome.primary_value is not None else "-"
        inv.reply.say(f"run {outcome.run_id} done", render.run_blocks(run), thread_ts=parent)
        done = f":white_check_mark: run `{outcome.run_id}` ({plain['name']}, {plain['model']['name']}): " \
               f"{outcome.primary_metric}={value}"
        if parent:
            inv.reply.update(inv.channel, parent, done, [render.section(done)])
        if register_as:
            self._register_and_request(inv, outcome.run_id, register_as, promote_to or "production", parent)
        return outcome.run_id

    def cmd_sweep(self, inv: Invocation, args: list[str]) -> None:
        self._require(inv, "sweep", "start sweeps")
        usage = "/mlplat sweep <experiment|sweep> [key=a,b ...]"
        overrides = self._overrides(self._first(args, ("sweep", "experiment"), usage))
        with COMPOSE_LOCK:
            total = parse.check_sweep_size(overrides, int(self.settings.allow["max_sweep_jobs"]))
        self.pool.submit(self.sweep_job, inv, overrides, total)

    def sweep_job(self, inv: Invocation, overrides: list[str], total: int) -> str | None:
        from mlplat import ops

        label = " ".join(overrides)
        parent = inv.reply.say(f":hourglass_flowing_sand: sweep `{label}` ({total} jobs) started by <@{inv.user}>")
        proc = SweepProcess(overrides, actor=inv.user, source=SOURCE, cwd=self.cwd,
                            groups=self.identity.groups_of(inv.user), access=self.settings.access)
        deadline = time.monotonic() + self.settings.sweep_timeout_s
        last = None
        while proc.poll() is None:
            if time.monotonic() > deadline:
                proc.kill()
                inv.reply.say(f":x: sweep stopped after {self.settings.sweep_timeout_s:.0f} s "
                              "(conf/bot sweep_timeout_s)", thread_ts=parent)
                break
            time.sleep(self.settings.progress_every_s)
            sid = proc.find_sweep()
            if sid:
                s = ops.show_sweep(sid, page_size=1)
                now = (s.get("n_done", 0), s.get("n_failed", 0))
                if now != last and sum(now):
                    inv.reply.say(f"{now[0] + now[1]}/{total} jobs finished ({now[1]} failed)", thread_ts=parent)
                    last = now
        sid = proc.find_sweep()
        if sid is None:
            error = proc.last_error()
            self.audit(inv.user, "bot.error", inv.channel, {"text": inv.text, "error": error})
            inv.reply.say(f":x: the sweep did not start: {error}", thread_ts=parent)
            if parent:
                inv.reply.update(inv.channel, parent, f":x: sweep `{label}` failed: {error}")
            return None
        sweep = ops.show_sweep(sid)
        inv.reply.say(f"sweep {sid} {sweep['status']}", render.sweep_blocks(sweep), thread_ts=parent)
        self._post_leaderboard(inv, {"sweep_id": sid}, None, 10, f"Sweep {sid[:8]}", thread_ts=parent)
        done = (f":white_check_mark: sweep `{sid}` {sweep['status']}: {sweep.get('n_done', 0)} done, "
                f"{sweep.get('n_failed', 0)} failed; best run `{sweep.get('best_run_id') or '-'}`")
        if parent:
            inv.reply.update(inv.channel, parent, done, [render.section(done)])
        return sid

    def cmd_status(self, inv: Invocation, args: list[str]) -> None:
        from mlplat import ops

        if not args:
            runs = ops.list_runs(page_size=5)
            sweeps = ops.list_sweeps(page_size=3)
            blocks = render.runs_blocks(runs)
            for s in sweeps:
                blocks += render.sweep_blocks(s)
            inv.reply.say("status", blocks)
            return
        try:
            inv.reply.say(f"run {args[0]}", render.run_blocks(ops.show_run(args[0])))
        except NotFound:
            sweep = ops.show_sweep(args[0], page_size=30)
            inv.reply.say(f"sweep {args[0]}", render.sweep_blocks(sweep))

    def cmd_runs(self, inv: Invocation, args: list[str]) -> None:
        from mlplat import ops

        n = _int(args[0], "N", 1, 50) if args else 10
        inv.reply.say("runs", render.runs_blocks(ops.list_runs(page_size=n)))

    def cmd_leaderboard(self, inv: Invocation, args: list[str]) -> None:
        from mlplat.evaluation.metrics import METRICS

        experiment, metric, top = None, None, 10
        for a in args:
            if a.isdigit():
                top = _int(a, "top", 1, 50)
            elif a in METRICS:
                metric = a
            elif experiment is None:
                experiment = a
            else:
                raise parse.Refused(f"unexpected {a!r}: /mlplat leaderboard [experiment] [metric] [top]")
        title = f"Leaderboard{' of ' + experiment if experiment else ''}"
        self._post_leaderboard(inv, {"experiment": experiment}, metric, top, title)

    def _post_leaderboard(self, inv: Invocation, filters: dict, metric: str | None, top: int, title: str,
                          thread_ts: str | None = None) -> None:
        from mlplat import ops

        board = ops.leaderboard(metric=metric, filters=filters, top=top)
        ts = inv.reply.say(title, render.leaderboard_blocks(board, title), thread_ts=thread_ts)
        if board["rows"]:
            inv.reply.upload(_chart(board, filters, top, title), "leaderboard.png", title,
                             thread_ts=thread_ts or ts)

    def cmd_models(self, inv: Invocation, args: list[str]) -> None:
        from mlplat import ops

        inv.reply.say("models", render.models_blocks(ops.list_models()))

    def cmd_model(self, inv: Invocation, args: list[str]) -> None:
        from mlplat import ops

        if len(args) != 1:
            raise parse.Refused("usage: /mlplat model <name>")
        inv.reply.say(f"model {args[0]}", render.model_blocks(ops.show_model(args[0])))

    def cmd_promote(self, inv: Invocation, args: list[str]) -> None:
        if len(args) not in (2, 3):
            raise parse.Refused("usage: /mlplat promote <name> <version> [alias, default production]")
        version = _int(args[1], "version", 1, 10**9)
        self._request(inv, args[0], version, args[2] if len(args) == 3 else "production")

    def _request(self, inv: Invocation, name: str, version: int, target: str, thread_ts: str | None = None) -> None:
        from mlplat import ops

        req = ops.request_promotion(name, version, target, actor=inv.user, source=SOURCE,
                                    **self.identity.ops_args(inv.user))
        if req["status"] != "pending":  # a target needing no approvals applies at once
            inv.reply.say(f":white_check_mark: {name}:{version} is now {target} (no approval needed)",
                          thread_ts=thread_ts)
            return
        channel = self.settings.channels.get("approvals") or inv.channel
        ts = inv.reply.say(f"promotion request {req['id']}", render.approval_blocks(req), channel=channel)
        if ts:
            dedup.remember_message(self.store, "request", req["id"], channel, ts)
        inv.reply.say(f"approval request `{req['id']}` for {name}:{version} to {target} posted"
                      f"{' in <#' + channel + '>' if channel != inv.channel else ''}", thread_ts=thread_ts)

    def _register_and_request(self, inv: Invocation, run_id: str, name: str, target: str,
                              thread_ts: str | None) -> None:
        from mlplat import ops

        try:
            version = ops.register(run_id, name, actor=inv.user, source=SOURCE, description="retrained from Slack",
                                   **self.identity.ops_args(inv.user))
            inv.reply.say(f"registered run {run_id} as {name}:{version['version']}", thread_ts=thread_ts)
            self._request(inv, name, int(version["version"]), target, thread_ts)
        except MlplatError as exc:
            self.audit(inv.user, "bot.error", inv.channel, {"text": inv.text, "error": str(exc)})
            inv.reply.say(f":x: {exc}", thread_ts=thread_ts)

    def cmd_approve(self, inv: Invocation, args: list[str]) -> None:
        if len(args) != 1:
            raise parse.Refused("usage: /mlplat approve <request id>")
        self.decide(inv, args[0], "approve", None)

    def cmd_reject(self, inv: Invocation, args: list[str]) -> None:
        if len(args) < 2:
            raise parse.Refused("usage: /mlplat reject <request id> <reason>")
        self.decide(inv, args[0], "reject", " ".join(args[1:]))

    def decide(self, inv: Invocation, request_id: str, verb: str, reason: str | None) -> dict:
        """Approve or reject through the registry (roles, four-eyes there), then update the request's card."""
        from mlplat import ops

        rules = self.identity.ops_args(inv.user)
        if verb == "approve":
            req = ops.approve(request_id, actor=inv.user, source=SOURCE, **rules)
        else:
            req = ops.reject(request_id, actor=inv.user, source=SOURCE, reason=reason or "", **rules)
        decision = {"status": req["status"], "by": inv.user, "at": time.time(),
                    "reason": req.get("reason") if verb == "reject" else None}
        if req["status"] == "pending":
            decision["status"] = f"approved ({len(req.get('approvals') or [])}/{req['approvals_needed']})"
        where = dedup.message_of(self.store, "request", req["id"])
        if where:
            inv.reply.update(where[0], where[1], f"request {req['id']} {decision['status']}",
                             render.approval_blocks(req, decision if req["status"] != "pending" else None)
                             + ([render.context(render.decision_text(decision))] if req["status"] == "pending"
                                else []))
        inv.reply.say(render.decision_text(decision) + f" (request `{req['id']}`, {req['name']}:{req['version']} "
                                                       f"to {req['target']})")
        return req

    def cmd_rollback(self, inv: Invocation, args: list[str]) -> None:
        from mlplat import ops

        if len(args) not in (1, 2):
            raise parse.Refused("usage: /mlplat rollback <name> [alias, default production]")
        out = ops.rollback(args[0], actor=inv.user, source=SOURCE, alias=args[1] if len(args) == 2 else "production",
                           **self.identity.ops_args(inv.user))
        inv.reply.say(f":leftwards_arrow_with_hook: {out['name']}@{out['alias']} rolled back from version "
                      f"{out['from_version']} to {out['to_version']} by <@{inv.user}>")

    def cmd_drift(self, inv: Invocation, args: list[str]) -> None:
        from mlplat_bot import drift

        if len(args) not in (1, 2):
            raise parse.Refused("usage: /mlplat drift <name> [window, e.g. 24h; default: all logged predictions]")
        window = drift.parse_window(args[1]) if len(args) == 2 else None
        outcome = drift.check(args[0], window, actor=inv.user, source=SOURCE, serving=self.settings.serving,
                              monitor=self.settings.monitor)
        ts = inv.reply.say(f"drift {args[0]}", render.drift_blocks(args[0], outcome["version"], outcome["result"]))
        if outcome["html"]:
            inv.reply.upload(outcome["html"].encode(), f"drift-{args[0]}.html", f"Drift report {args[0]}",
                             thread_ts=ts)

    def cmd_profile(self, inv: Invocation, args: list[str]) -> None:
        """`/mlplat profile <dataset>`: the data profile's summary here, the HTML report as a file in its thread."""
        from mlplat import ops

        self._require(inv, "view", "profile datasets")
        usage = "/mlplat profile <dataset>"
        if len(args) != 1 or "=" in args[0]:
            raise parse.Refused(f"usage: {usage} (one of {', '.join(self._groups('dataset'))})")
        overrides = self._first(args, ("dataset",), usage)
        with COMPOSE_LOCK:  # composing only: the profile itself runs outside the lock
            dataset = ops.compose_plain(overrides)["dataset"]
        result = ops.profile_dataset(dataset=dataset)
        ts = inv.reply.say(f"data profile {args[0]}", render.profile_blocks(args[0], result["profile"]))
        inv.reply.upload(ops.render_profile(result, "html").encode(), f"profile-{args[0]}.html",
                         f"Data profile {args[0]}", thread_ts=ts)

    def cmd_report(self, inv: Invocation, args: list[str]) -> None:
        from mlplat_bot.drift import parse_window

        from mlplat import ops

        if not args or args[0] != "governance" or len(args) > 2:
            raise parse.Refused("usage: /mlplat report governance [period, e.g. 7d; default 7d]")
        fn = getattr(ops, "governance_report", None)
        if fn is None:
            raise NotAvailable("the governance report is not available yet (mlplat.ops.governance_report is not "
                               "in this version of mlplat)")
        period = parse_window(args[1]) if len(args) == 2 else 7 * 86400
        out = fn(since=time.time() - period, fmt="md", actor=inv.user, source=SOURCE,
                 governance=self.settings.governance)
        icon = {"ok": ":white_check_mark:", "warn": ":warning:", "error": ":x:"}.get(out["status"], "")
        summary = out["summary"] if isinstance(out["summary"], str) else json.dumps(out["summary"], default=str)
        ts = inv.reply.say(f"governance report {out['id']}", [
            render.section(f"{icon} *Governance report* #{out['id']} ({out['status']}), last "
                           f"{args[1] if len(args) == 2 else '7d'}: {len(out.get('violations') or [])} violation(s)"),
            render.section(summary)])
        inv.reply.upload((out.get("content") or "").encode(), f"governance-report-{out['id']}.md",
                         "Governance report", thread_ts=ts)


def _int(text: str, what: str, lo: int, hi: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise parse.Refused(f"{what} must be a whole number, got {text!r}") from None
    if not lo <= value <= hi:
        raise parse.Refused(f"{what} must be between {lo} and {hi}, got {value}")
    return value


def _chart(board: dict, filters: dict, top: int, title: str) -> bytes:
    """The leaderboard PNG from mlplat.ops.leaderboard_chart when present, else the bot's own chart."""
    try:
        from mlplat.ops.listing import leaderboard_chart
    except ImportError:
        return render.leaderboard_png(board, title)
    try:
        return leaderboard_chart(metric=board["metric"], filters=filters, top=top)
    except ImportError:  # mlplat.reports not installed in this version
        return render.leaderboard_png(board, title)


__all__ = ["Bot", "Invocation", "Reply", "NotAvailable", "RegistryError"]
