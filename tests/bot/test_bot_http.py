"""Signed requests over real HTTP into the real bolt app; Slack's Web API is the local stand-in."""

from __future__ import annotations

import json
import time

import pandas as pd
import pytest

from mlplat import ops


def _posted_to(slack, channel: str) -> list[dict]:
    return [p for p in slack.standin.of("chat.postMessage") if p.get("channel") == channel]


def test_forged_signature_and_replayed_request_get_401(slack):
    before = len(slack.standin.calls)
    assert slack.command("UEXP", "help", secret="not-the-secret")[0] == 401
    assert slack.command("UEXP", "help", timestamp=int(time.time()) - 600)[0] == 401
    assert [m for m, _ in slack.standin.calls[before:] if m != "auth.test"] == []


def test_help_is_acked_fast_and_answered(slack):
    t0 = time.perf_counter()
    status, body = slack.command("UVIEW", "help", wait=False)
    assert status == 200 and time.perf_counter() - t0 < 1.0
    assert "working on it" in body
    slack.idle()
    assert any("/mlplat sweep" in t for t in slack.standin.texts())
    entry = slack.audit("bot.command", "UVIEW")[0]
    assert entry["source"] == "slack" and json.loads(entry["payload"])["text"] == "help"


def test_run_posts_progress_in_a_thread_and_read_commands_answer(slack):
    slack.standin.clear()
    assert slack.command("UEXP", "run demo model=logreg evaluation=fast seed=7")[0] == 200
    posted = slack.standin.of("chat.postMessage")
    parent = next(p for p in posted if "started by" in p["text"])
    thread = [p for p in posted if p.get("thread_ts") == parent["_ts"]]
    assert thread and "done" in thread[-1]["blocks"]
    update = slack.standin.of("chat.update")[-1]
    assert update["ts"] == parent["_ts"] and "roc_auc=" in update["text"]
    run = ops.list_runs(page_size=1)[0]
    assert (run["actor"], run["source"], run["status"]) == ("UEXP", "slack", "done")

    slack.standin.clear()
    for text in (f"status {run['id'][:8]}", "status", "runs 5", "leaderboard roc_auc 3"):
        assert slack.command("UVIEW", text)[0] == 200
    texts = slack.standin.texts()
    assert run["id"] in texts[0] and "Latest" in texts[1] and "Latest 5 runs" in texts[2] or "Latest" in texts[2]
    assert "Leaderboard" in texts[3] and run["id"][:8] in texts[3]
    # the PNG goes through files_upload_v2: URL from the stand-in, bytes POSTed to it, then completed
    assert slack.standin.of("files.getUploadURLExternal") and slack.standin.of("files.completeUploadExternal")
    assert slack.standin.uploads[-1].startswith(b"\x89PNG")


def test_a_retried_command_runs_once(slack):
    before = len(ops.list_runs(page_size=50))
    trigger = "trig.retry.1"
    assert slack.command("UEXP", "run demo model=logreg evaluation=fast seed=11", trigger_id=trigger,
                         wait=False)[0] == 200
    # Slack retries when the ack seemed late: same body, same trigger id, X-Slack-Retry-Num
    assert slack.command("UEXP", "run demo model=logreg evaluation=fast seed=11", trigger_id=trigger,
                         retry_num=1)[0] == 200
    assert len(ops.list_runs(page_size=50)) == before + 1
    assert len([a for a in slack.audit("bot.command", "UEXP") if "seed=11" in a["payload"]]) == 1


def test_a_viewer_may_not_start_runs_and_the_refusal_is_audited(slack):
    slack.standin.clear()
    slack.command("UVIEW", "run demo")
    assert "ml-engineer" in slack.standin.of("chat.postEphemeral")[-1]["text"]
    assert slack.audit("bot.refused", "UVIEW")


def test_a_viewer_may_not_open_a_promotion_request_from_chat(slack):
    """conf/access says promoting needs ml-engineer: a viewer's `promote` is refused by ops
    (the one check), whichever door; before, the registry's "*" let every Slack id through."""
    _register("churnview", 3)
    slack.standin.clear()
    slack.command("UVIEW", "promote churnview 1 staging")
    reply = slack.standin.of("chat.postEphemeral")[-1]["text"]
    assert "'slack:UVIEW' may not request a promotion to staging" in reply and "ml-engineer" in reply
    assert not ops.list_approvals(actor="test", source="test", name="churnview")
    assert "staging" not in ops.show_model("churnview")["aliases"]


def test_a_refused_override_is_answered_and_audited(slack):
    slack.standin.clear()
    slack.command("UEXP", "run demo seed=${oc.env:SLACK_BOT_TOKEN}")
    reply = slack.standin.of("chat.postEphemeral")[-1]
    assert reply["user"] == "UEXP" and "interpolations" in reply["text"]
    assert "SLACK_BOT_TOKEN" in slack.audit("bot.refused", "UEXP")[0]["payload"]


def test_sweep_runs_in_a_subprocess_with_progress_and_its_leaderboard(slack):
    slack.standin.clear()
    slack.command("UEXP", "sweep demo model=logreg evaluation=fast model.classifier_params.C=0.5,2.0")
    posted = slack.standin.of("chat.postMessage")
    parent = next(p for p in posted if "sweep" in p["text"] and "started by" in p["text"])
    thread = " ".join(p["text"] + str(p.get("blocks")) for p in posted if p.get("thread_ts") == parent["_ts"])
    assert "2/2 jobs finished" in thread and "Sweep" in thread
    sweep = ops.list_sweeps(page_size=1)[0]
    assert sweep["status"] == "done" and sweep["n_done"] == 2
    runs = ops.list_runs(filters={"sweep_id": sweep["id"]})
    assert {r["actor"] for r in runs} == {"UEXP"} and {r["source"] for r in runs} == {"slack"}
    assert slack.standin.uploads[-1].startswith(b"\x89PNG")


def test_sweep_over_the_cap_is_refused(slack):
    slack.standin.clear()
    before = len(ops.list_sweeps(page_size=50))
    slack.command("UEXP", "sweep demo model=logreg model.classifier_params.C=range(1,100)")
    assert "more than the 20 allowed" in slack.standin.of("chat.postEphemeral")[-1]["text"]
    assert len(ops.list_sweeps(page_size=50)) == before


def test_hostile_sweep_text_is_refused_at_once_and_the_bot_answers_the_next_command(slack):
    slack.standin.clear()
    before = len(ops.list_sweeps(page_size=50))
    t0 = time.perf_counter()
    slack.command("UEXP", "sweep demo seed=range(0,2147483647)")  # waits until the bot has answered
    refused = time.perf_counter() - t0
    assert "this sweep runs 2147483647 jobs, more than the 20 allowed" in \
        slack.standin.of("chat.postEphemeral")[-1]["text"]
    assert len(ops.list_sweeps(page_size=50)) == before
    t1 = time.perf_counter()
    slack.command("UVIEW", "help")
    assert time.perf_counter() - t1 < 1.0 and any("/mlplat sweep" in t for t in slack.standin.texts())
    assert refused < 10  # one composition of the sweep config (it was 56 s and 2 GB for 30 M values)


def test_a_chat_run_refuses_a_sweep_value_like_the_cli(slack):
    slack.standin.clear()
    before = len(ops.list_runs(page_size=50))
    slack.command("UEXP", "run demo model=logreg model.classifier_params.C=interval(0.1,0.5)")
    reply = slack.standin.of("chat.postEphemeral")[-1]["text"]
    assert "interval" in reply and "a single run takes one value per key" in reply
    assert len(ops.list_runs(page_size=50)) == before


def _register(name: str, seed: int) -> int:
    from mlplat_bot.worker import train_in_process

    _, outcome = train_in_process(["experiment=demo", "model=logreg", "evaluation=fast", f"seed={seed}"],
                                  actor="UEXP", source="slack")
    return ops.register(outcome.run_id, name, actor="UEXP", source="test")["version"]


def _card(slack, request_id: str) -> dict:
    return next(p for p in _posted_to(slack, "CAPPROVALS") if request_id in p["text"])


def test_promote_posts_a_card_and_buttons_decide_once_with_four_eyes(slack):
    _register("churnbot", 1)
    slack.standin.clear()
    slack.runtime.bot.identity.groups.clear()
    slack.command("UAPP1", "promote churnbot 1")
    req = ops.list_approvals(actor="test", source="test", status="pending", name="churnbot")[0]
    card = _card(slack, req["id"])
    assert "approval_approve" in card["blocks"] and "Gates" not in card["text"]
    # self-approval (UAPP1 requested it) and an unauthorised approval are refused and audited
    slack.click("UAPP1", "approval_approve", req["id"], channel="CAPPROVALS", message_ts=card["_ts"])
    slack.click("UEXP", "approval_approve", req["id"], channel="CAPPROVALS", message_ts=card["_ts"])
    denied = slack.audit("approval.denied")
    assert {d["actor"] for d in denied if d["object_id"] == req["id"]} == {"UAPP1", "UEXP"}
    texts = [p["text"] for p in slack.standin.of("chat.postEphemeral")[-2:]]
    assert "four-eyes" in texts[0] and "may not approve" in texts[1]
    # UAPP2 approves through the SAPPROVERS user group; a double click decides once
    slack.click("UAPP2", "approval_approve", req["id"], channel="CAPPROVALS", message_ts=card["_ts"], wait=False)
    slack.click("UAPP2", "approval_approve", req["id"], channel="CAPPROVALS", message_ts=card["_ts"])
    assert slack.standin.of("usergroups.users.list")
    assert ops.show_model("churnbot")["aliases"]["production"] == 1
    assert len([a for a in slack.audit("approval.add") if a["object_id"] == req["id"]]) == 1
    updates = [u for u in slack.standin.of("chat.update") if u["ts"] == card["_ts"]]
    assert len(updates) == 1 and "approved" in updates[0]["blocks"] and "UAPP2" in updates[0]["blocks"]


def test_approve_reject_and_rollback_commands(slack):
    _register("wagebot", 2)
    _register("wagebot", 3)
    slack.command("UEXP", "promote wagebot 1")
    first = ops.list_approvals(actor="t", source="t", status="pending", name="wagebot")[0]
    slack.command("UAPP1", f"approve {first['id']}")
    slack.command("UEXP", "promote wagebot 2")
    second = ops.list_approvals(actor="t", source="t", status="pending", name="wagebot")[0]
    slack.standin.clear()
    slack.command("UAPP1", f"approve {second['id']}")
    assert ops.show_model("wagebot")["aliases"]["production"] == 2
    card_update = slack.standin.of("chat.update")[-1]
    assert "approved" in card_update["blocks"] and card_update["channel"] == "CAPPROVALS"
    slack.command("UADMIN", "rollback wagebot")
    assert ops.show_model("wagebot")["aliases"]["production"] == 1
    assert "rolled back from version 2 to 1" in slack.standin.texts()[-1]
    slack.command("UEXP", "promote wagebot 2")
    third = ops.list_approvals(actor="t", source="t", status="pending", name="wagebot")[0]
    slack.command("UAPP2", f"reject {third['id']} holdout too close to the champion")
    assert ops.show_approval(third["id"])["status"] == "rejected"
    assert "holdout too close" in slack.standin.of("chat.update")[-1]["blocks"]
    slack.command("UVIEW", "models")
    slack.command("UVIEW", "model wagebot")
    assert "wagebot" in slack.standin.texts()[-2] and "version" in slack.standin.texts()[-1]


def test_drift_check_against_the_registered_profile(slack):
    from sklearn.datasets import load_breast_cancer

    _register("driftbot", 4)
    frame = load_breast_cancer(as_frame=True).frame.drop(columns=["target"]).head(300).copy()
    frame["mean radius"] = frame["mean radius"] * 3  # injected drift
    log = pd.DataFrame({f"input.{c}": frame[c] for c in frame.columns})
    log.insert(0, "ts", time.time())
    log["request_id"], log["row"], log["model"], log["version"], log["latency_ms"] = "r", range(len(log)), \
        "driftbot", 1, 1.0
    log["prediction"] = 1
    directory = slack.root / "predictions" / "driftbot"
    directory.mkdir(parents=True)
    ms = int(time.time() * 1000)
    log.to_parquet(directory / f"part-{ms}-{ms}-abc.parquet")
    slack.standin.clear()
    slack.command("UVIEW", "drift driftbot 24h")
    text = slack.standin.texts()[-1]
    assert "Drift check `driftbot`" in text and "mean radius" in text
    assert slack.standin.uploads and b"<html" in slack.standin.uploads[-1].lower()


def test_governance_report_answers_or_says_it_is_not_available(slack):
    slack.standin.clear()
    slack.command("UVIEW", "report governance")
    if hasattr(ops, "governance_report"):
        assert "Governance report" in slack.standin.texts()[-1]
        assert slack.standin.of("files.completeUploadExternal")
        assert slack.audit("governance.report", "UVIEW")
    else:
        assert "not available yet" in slack.standin.of("chat.postEphemeral")[-1]["text"]


def test_alert_is_delivered_once_within_the_cool_down_and_its_buttons_act_once(slack):
    _register("alertbot", 5)
    slack.standin.clear()
    event = {"kind": "drift", "title": "Drift on alertbot", "text": "3 of 30 features drifted", "status": "drift",
             "model": "alertbot", "version": 1, "details": {"worst": [{"name": "mean radius", "status": "drift",
                                                                      "score": 0.4}]},
             "attachments": [], "dedup_key": "drift|alertbot|1|drift"}
    notifier = slack.runtime.notifier
    notifier.notify(event)
    notifier.notify(event)
    slack.idle()
    alerts = _posted_to(slack, "CALERTS")
    assert len(alerts) == 1 and "alert_retrain" in alerts[0]["blocks"]
    blocks = json.loads(alerts[0]["blocks"])
    value = blocks[-1]["elements"][0]["value"]
    slack.click("UVIEW", "alert_ack", value, channel="CALERTS", message_ts=alerts[0]["_ts"], wait=False)
    slack.click("UADMIN", "alert_ack", value, channel="CALERTS", message_ts=alerts[0]["_ts"])
    acks = [u for u in slack.standin.of("chat.update") if "acknowledged" in u["text"]]
    assert len(acks) == 1 and "already done" in slack.standin.of("chat.postEphemeral")[-1]["text"]
    # Retrain: trains the configured experiment, registers it, and ends in an approval request
    slack.click("UEXP", "alert_retrain", value, channel="CALERTS", message_ts=alerts[0]["_ts"])
    assert ops.show_model("alertbot")["versions"][0]["version"] == 2
    pending = ops.list_approvals(actor="t", source="t", status="pending", name="alertbot")
    assert pending and pending[0]["version"] == 2 and pending[0]["requester"] == "UEXP"


def test_rate_limit_429_is_honoured(slack):
    slack.standin.clear()
    slack.standin.rate_limit("chat.postMessage", 1)
    before = slack.runtime.outbox.rate_limited
    t0 = time.monotonic()
    slack.command("UVIEW", "help")
    attempts = [p for m, p in slack.standin.calls if m == "chat.postMessage"]
    assert [a.get("_answered") for a in attempts] == [429, None]
    assert slack.runtime.outbox.rate_limited == before + 1 and time.monotonic() - t0 >= 1.0


def test_app_home_shows_production_models_pending_approvals_and_leaderboard(slack):
    slack.standin.clear()
    assert slack.event({"type": "app_home_opened", "user": "UVIEW", "tab": "home"}, "Ev1") == 200
    assert slack.event({"type": "app_home_opened", "user": "UVIEW", "tab": "home"}, "Ev1") == 200  # a retry
    views = slack.standin.of("views.publish")
    assert len(views) == 1
    view = json.loads(views[0]["view"])
    text = json.dumps(view)
    assert view["type"] == "home" and "Production models" in text and "Pending approvals" in text
    assert "Latest leaderboard" in text


@pytest.mark.parametrize("text", ["frobnicate", "leaderboard a b c", "runs many", "promote x notanumber"])
def test_bad_commands_get_one_clear_line(slack, text):
    slack.standin.clear()
    slack.command("UVIEW", text)
    reply = slack.standin.of("chat.postEphemeral")[-1]["text"]
    assert reply.startswith(":no_entry:") and "\n" not in reply
