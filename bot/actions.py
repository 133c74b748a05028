"""Buttons, alerts and the App Home: the click-driven half of the bot.

A mixin of ``bot.commands.Bot`` (which provides ``settings``, ``store``, ``identity``,
``pool``, ``audit``, ``decide`` and ``train_job``), so typed commands and clicks share one
set of rules and one audit path while each half stays a readable size.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from mlplat_bot import dedup, parse, render
from mlplat_bot.identity import SOURCE
from mlplat_bot.invocation import Invocation, NotAvailable, Reply

from mlplat.errors import MlplatError

log = logging.getLogger("mlplat.bot")


class ActionsMixin:
    # -- buttons -----------------------------------------------------------------------
    def handle_action(self, action_id: str, value: str, inv: Invocation, message_ts: str | None) -> None:
        """A button click (in a worker, after the ack). Never raises."""
        try:
            if action_id in ("approval_approve", "approval_reject"):
                self._decide_click(inv, value, action_id.removeprefix("approval_"))
            elif action_id in ("alert_ack", "alert_retrain"):
                self._alert_click(inv, action_id, value, message_ts)
            else:
                log.warning("unknown action %s", action_id)
        except parse.Refused as exc:
            self.audit(inv.user, "bot.refused", inv.channel, {"action": action_id, "value": value, "reason": str(exc)})
            inv.reply.whisper(f":no_entry: {exc}")
        except MlplatError as exc:
            self.audit(inv.user, "bot.error", inv.channel, {"action": action_id, "value": value, "error": str(exc)})
            inv.reply.whisper(f":x: {exc}")
        except Exception as exc:
            log.exception("action %s failed", action_id)
            inv.reply.whisper(f":x: internal error ({type(exc).__name__}); the bot's log has the details")

    def _decide_click(self, inv: Invocation, request_id: str, verb: str) -> None:
        # a double click is two payloads with two trigger ids: the key is the decision itself
        key = f"decide:{request_id}:{inv.user}"
        if not dedup.claim(self.store, key, kind="decision", user=inv.user, detail={"verb": verb}):
            first = dedup.holder(self.store, key) or {}
            log.info("repeated click on %s by %s ignored (first at %s)", request_id, inv.user, first.get("created_at"))
            return
        self.audit(inv.user, "bot.button", inv.channel, {"action": verb, "request": request_id})
        try:
            self.decide(inv, request_id, verb, "rejected with the Reject button in Slack" if verb == "reject" else None)
        except MlplatError:
            # a refused decision (no role, own request, already decided) may be retried later by the same user
            with self.store.write() as conn:
                conn.execute(dedup.bot_events.delete().where(dedup.bot_events.c.event_key == key))
            raise

    def _alert_click(self, inv: Invocation, action_id: str, value: str, message_ts: str | None) -> None:
        data = json.loads(value)
        key, model = data["key"], data.get("model")
        verb = "ack" if action_id == "alert_ack" else "retrain"
        if verb == "retrain":
            self._require(inv, "train", "start a retraining")
        claim_key = f"{verb}:{key}"
        if not dedup.claim(self.store, claim_key, kind=f"alert_{verb}", user=inv.user):
            first = dedup.holder(self.store, claim_key) or {}
            inv.reply.whisper(f"already done by <@{first.get('user')}> at {render.when(first.get('created_at'))}")
            return
        self.audit(inv.user, f"alert.{'acknowledged' if verb == 'ack' else 'retrain'}", key, {"model": model})
        done = (f":ballot_box_with_check: acknowledged by <@{inv.user}> at {render.when(time.time())}"
                if verb == "ack" else f":repeat: retraining started by <@{inv.user}> at {render.when(time.time())}")
        if message_ts:
            inv.reply.update(inv.channel, message_ts, done, [render.section(data.get("title") or "alert"),
                                                              render.context(done)])
        if verb == "retrain":
            retrain = data.get("retrain") or self.settings.alerts.get("retrain") or {}
            if not retrain.get("experiment"):
                raise NotAvailable("no retraining is configured: set bot.alerts.retrain.experiment in conf/bot")
            overrides = [f"experiment={retrain['experiment']}", *(retrain.get("overrides") or [])]
            self.train_job(inv, overrides, register_as=model, promote_to=retrain.get("target") or "production")

    # -- alerts and App Home -----------------------------------------------------------
    def deliver_alert(self, event: dict[str, Any], reply: Reply) -> bool:
        """Post a monitoring alert once per cool-down; False when it was a repeat."""
        key = event.get("dedup_key") or "|".join(str(event.get(k)) for k in ("kind", "model", "version", "status",
                                                                            "title"))
        cooldown = float(self.settings.alerts.get("cooldown_s", 3600))
        if not dedup.claim_within(self.store, f"alert:{key}", cooldown, kind="alert"):
            log.info("alert %s suppressed within its cool-down", key)
            return False
        channel = self.settings.channels.get("alerts") or ""
        if not channel:
            log.warning("bot.channels.alerts is empty: alert %s not posted to Slack", key)
            return False
        retrain = (event.get("details") or {}).get("retrain") or self.settings.alerts.get("retrain") or {}
        value = json.dumps({"key": key, "model": event.get("model"), "title": event.get("title"),
                            "retrain": (event.get("details") or {}).get("retrain")})
        blocks = render.alert_blocks(event, value, retrain=bool(retrain.get("experiment") and event.get("model")))
        ts = reply.say(str(event.get("title") or "alert"), blocks, channel=channel)
        for path in event.get("attachments") or []:
            from pathlib import Path

            p = Path(path)
            if p.is_file():
                reply.upload(p.read_bytes(), p.name, p.name, thread_ts=ts, channel=channel)
        with self.store.write() as conn:
            from mlplat.tracking import audit

            audit.append(conn, actor="mlplat-bot", source=SOURCE, action="alert.delivered", object_type="alert",
                         object_id=key[:200], payload={"channel": channel, "ts": ts})
        return True

    def home_view(self, user: str) -> dict:
        from mlplat import ops

        models = ops.list_models()
        pending = ops.list_approvals(actor=user, source=SOURCE, status="pending")
        board = ops.leaderboard(top=5)
        return render.home_view(models, pending, board)
