"""Block Kit for every bot reply, and the same replies as plain text for `mlplat chat`.

Tables go in code blocks (Block Kit has no table element that survives every client);
section text is capped below Slack's 3000-character limit.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from typing import Any

MAX_TEXT = 2900

HELP = """\
/mlplat help
/mlplat run <experiment> [key=value ...]        train in the background; progress in a thread
/mlplat sweep <experiment|sweep> [key=a,b ...]  a sweep, then its leaderboard
/mlplat status [run or sweep id]                 /mlplat runs [N]
/mlplat leaderboard [experiment] [metric] [top]
/mlplat models                                   /mlplat model <name>
/mlplat promote <name> <version> [alias]         an approval request to the approvers' channel
/mlplat approve <request id>                     /mlplat reject <request id> <reason>
/mlplat rollback <name> [alias]
/mlplat drift <name> [window e.g. 24h]
/mlplat profile <dataset>                        the data profile; the HTML report as a file
/mlplat report governance"""


def when(ts: float | None) -> str:
    if ts is None:
        return "-"
    return dt.datetime.fromtimestamp(float(ts), dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4f}"
    return "-" if v is None else str(v)


def table(headers: list[str], rows: list[list[Any]]) -> str:
    cells = [headers] + [[_fmt(c) for c in r] for r in rows]
    widths = [max(len(str(r[i])) for r in cells) for i in range(len(headers))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    out = "\n".join(lines)
    return out if len(out) < MAX_TEXT - 10 else out[: MAX_TEXT - 20] + "\n..."


def section(text: str) -> dict:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:MAX_TEXT]}}


def code(text: str) -> dict:
    return section(f"```{text}```")


def context(text: str) -> dict:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text[:MAX_TEXT]}]}


def button(text: str, action_id: str, value: str, style: str | None = None) -> dict:
    b = {"type": "button", "text": {"type": "plain_text", "text": text}, "action_id": action_id, "value": value}
    if style:
        b["style"] = style
    return b


def help_blocks() -> list[dict]:
    return [section("*mlplat from Slack*"), code(HELP)]


def runs_blocks(rows: list[dict]) -> list[dict]:
    body = table(["run", "experiment", "model", "status", "metric", "value", "started"],
                 [[r["id"][:8], r.get("experiment"), r.get("model"), r.get("status"), r.get("primary_metric"),
                   r.get("primary_value"), when(r.get("started_at"))] for r in rows])
    return [section(f"*Latest {len(rows)} runs*"), code(body)]


def run_blocks(run: dict) -> list[dict]:
    cv = (run.get("metrics") or {}).get("cv") or {}
    holdout = (run.get("metrics") or {}).get("holdout") or {}
    rows = [[name, (v or {}).get("value"), (v or {}).get("std"), holdout.get(name)] for name, v in sorted(cv.items())]
    head = (f"*Run `{run['id']}`* {run.get('status')}: {run.get('experiment')} / {run.get('model')} on "
            f"{run.get('dataset')}, by <@{run.get('actor')}> ({run.get('source')}), {when(run.get('started_at'))}")
    blocks = [section(head)]
    if rows:
        blocks.append(code(table(["metric", "cv mean", "cv std", "holdout"], rows)))
    if run.get("error"):
        blocks.append(section(f":x: {run['error']}"))
    return blocks


def sweep_blocks(sweep: dict) -> list[dict]:
    head = (f"*Sweep `{sweep['id']}`* {sweep.get('status')}: {sweep.get('n_done', 0)} done, "
            f"{sweep.get('n_failed', 0)} failed, {sweep.get('n_running', 0)} running; best run "
            f"`{sweep.get('best_run_id') or '-'}`")
    blocks = [section(head)]
    trials = sweep.get("trials") or []
    if trials:
        blocks.append(code(table(["job", "run", "status", "metric", "value"],
                                 [[t.get("job_num"), t["id"][:8], t.get("status"), t.get("primary_metric"),
                                   t.get("primary_value")] for t in trials[:30]])))
    return blocks


def leaderboard_blocks(board: dict, title: str = "Leaderboard") -> list[dict]:
    rows = board.get("rows") or []
    if not rows:
        return [section(f"*{title}*: no finished runs with {board.get('metric')} yet")]
    body = table(["#", "run", "experiment", "model", board["metric"], "std", "holdout"],
                 [[r["rank"], r["id"][:8], r.get("experiment"), r.get("model"), r.get("value"), r.get("std"),
                   r.get("holdout")] for r in rows])
    arrow = "higher is better" if board.get("direction") == "maximize" else "lower is better"
    return [section(f"*{title}* by `{board['metric']}` ({arrow})"), code(body)]


def models_blocks(models: list[dict]) -> list[dict]:
    if not models:
        return [section("No registered models yet: `mlplat models register <run id> --name NAME`")]
    body = table(["model", "latest", "aliases"],
                 [[m["name"], m.get("latest_version"),
                   ", ".join(f"{a}={v}" for a, v in sorted((m.get("aliases") or {}).items())) or "-"] for m in models])
    return [section(f"*{len(models)} registered models*"), code(body)]


def model_blocks(model: dict) -> list[dict]:
    versions = model.get("versions") or []
    aliases = model.get("aliases") or {}
    body = table(["version", "run", "created", "aliases"],
                 [[v["version"], str(v.get("run_id", ""))[:8], when(v.get("created_at")),
                   ", ".join(a for a, n in aliases.items() if n == v["version"]) or "-"] for v in versions])
    return [section(f"*Model `{model['name']}`*: {len(versions)} versions"), code(body)]


def _evidence_text(req: dict) -> str:
    ev = req.get("evidence") or {}
    lines = []
    for g in ev.get("gates") or []:
        icon = {"pass": ":white_check_mark:", "fail": ":x:", "review": ":eyes:"}.get(g.get("status"), "")
        lines.append(f"{icon} {g.get('gate')}: {g.get('detail')}")
    cand = (ev.get("candidate") or {}).get("metrics") or {}
    champ = (ev.get("champion") or {}) or {}
    hold = cand.get("holdout") or {}
    if hold:
        champ_hold = (champ.get("metrics") or {}).get("holdout") or {}
        lines.append("holdout: " + ", ".join(
            f"{k} {_fmt(v)}" + (f" (champion {_fmt(champ_hold.get(k))})" if k in champ_hold else "")
            for k, v in sorted(hold.items())))
    return "\n".join(lines) or "no gates configured"


def approval_blocks(req: dict, decision: dict | None = None) -> list[dict]:
    """The approval request card; with ``decision`` the buttons are replaced by the outcome."""
    base = req.get("base_version")
    head = (f"*Promotion request `{req['id']}`*: `{req['name']}:{req['version']}` to *{req['target']}* "
            f"(now {base if base is not None else 'none'}), requested by <@{req['requester']}>; "
            f"needs {req.get('approvals_needed', 1)} approval(s); expires {when(req.get('expires_at'))}")
    blocks = [section(head), section(_evidence_text(req))]
    ci = (req.get("evidence") or {}).get("context") or {}
    if ci.get("summary") or ci.get("pr_url"):
        # filed by `mlplat ci deploy`: what the pull request's report said, and where to read it
        link = f"<{ci['pr_url']}|pull request #{ci.get('pr')}>" if ci.get("pr_url") else "CI"
        blocks.append(section(f":robot_face: From {link}: {ci.get('summary') or ''}"))
    if decision is None:
        blocks.append({"type": "actions", "block_id": f"approval:{req['id']}", "elements": [
            button("Approve", "approval_approve", req["id"], "primary"),
            button("Reject", "approval_reject", req["id"], "danger")]})
    else:
        blocks.append(context(decision_text(decision)))
    return blocks


def decision_text(decision: dict) -> str:
    icon = {"approved": ":white_check_mark:", "rejected": ":no_entry:", "pending": ":hourglass:"}.get(
        decision.get("status"), ":information_source:")
    why = f": {decision['reason']}" if decision.get("reason") else ""
    return f"{icon} *{decision.get('status')}* by <@{decision.get('by')}> at {when(decision.get('at'))}{why}"


def drift_blocks(name: str, version: Any, result: dict, top: int = 5) -> list[dict]:
    feats = list((result.get("features") or {}).values())
    order = {"drift": 0, "error": 1, "warn": 2, "ok": 3}
    feats.sort(key=lambda f: (order.get(f.get("status"), 4), -(f.get("statistic") or 0)))
    rows = [[f["name"], f.get("status"), f.get("method"), f.get("score"), f.get("threshold")] for f in feats[:top]]
    head = (f"*Drift check `{name}`* (version {version}): *{result.get('status')}*, "
            + (result["verdict"] if result.get("verdict") else
               f"{result.get('n_drifted', 0)}/{result.get('n_checked', 0)} features drifted "
               f"(share {_fmt(result.get('share_drifted'))}, dataset threshold {_fmt(result.get('drift_share'))})"))
    blocks = [section(head)]
    if rows:
        blocks.append(code(table(["feature", "status", "method", "score", "threshold"], rows)))
    notes = result.get("notes") or []
    if notes:
        blocks.append(context("; ".join(map(str, notes))[:500]))
    return blocks


def profile_blocks(name: str, profile: dict, top: int = 8) -> list[dict]:
    """The data profile's summary: size, duplicates, the gappiest columns, the warnings."""
    cols = profile.get("columns") or {}
    target = f", target `{profile['target']}` ({profile.get('task')})" if profile.get("target") else ""
    head = (f"*Data profile `{name}`*: {profile['n_rows']:,} rows x {profile['n_columns']} columns, "
            f"{profile['n_duplicate_rows']:,} duplicated rows{target}")
    rows = [[c, v.get("kind"), f"{v.get('missing_share', 0):.1%}", v.get("n_distinct")]
            for c, v in sorted(cols.items(), key=lambda kv: -(kv[1].get("missing_share") or 0))[:top]]
    blocks = [section(head), code(table(["column", "kind", "missing", "distinct"], rows))]
    warnings = profile.get("warnings") or []
    if warnings:
        blocks.append(section("*Warnings*\n" + "\n".join(f"• *{w['type']}*: {w['message']}" for w in warnings[:8])
                              + (f"\n…and {len(warnings) - 8} more (in the report)" if len(warnings) > 8 else "")))
    else:
        blocks.append(context("no warnings"))
    return blocks


def alert_blocks(event: dict, key: str, *, retrain: bool, done: str | None = None) -> list[dict]:
    where = f" `{event['model']}:{event.get('version')}`" if event.get("model") else ""
    blocks = [section(f":rotating_light: *{event.get('title', event.get('kind', 'alert'))}*{where} "
                      f"({event.get('status', '')})"), ]
    if event.get("text"):
        blocks.append(section(str(event["text"])))
    worst = (event.get("details") or {}).get("worst") or []
    if worst:
        blocks.append(code(table(["feature", "status", "score"],
                                 [[w.get("name"), w.get("status"), w.get("score")] for w in worst[:5]])))
    if done:
        blocks.append(context(done))
    else:
        buttons = [button("Acknowledge", "alert_ack", key)]
        if retrain:
            buttons.append(button("Retrain", "alert_retrain", key, "primary"))
        blocks.append({"type": "actions", "block_id": f"alert:{key[:200]}", "elements": buttons})
    return blocks


def home_view(models: list[dict], pending: list[dict], board: dict | None) -> dict:
    blocks: list[dict] = [{"type": "header", "text": {"type": "plain_text", "text": "mlplat"}}]
    prod = [m for m in models if "production" in (m.get("aliases") or {})]
    blocks.append(section("*Production models*\n" + ("\n".join(
        f"• `{m['name']}` version {m['aliases']['production']}" for m in prod) or "none yet")))
    blocks.append({"type": "divider"})
    blocks.append(section("*Pending approvals*\n" + ("\n".join(
        f"• `{r['id']}` {r['name']}:{r['version']} to {r['target']} by <@{r['requester']}>" for r in pending[:10])
        or "none")))
    blocks.append({"type": "divider"})
    blocks += leaderboard_blocks(board, "Latest leaderboard") if board else [section("*Latest leaderboard*: -")]
    return {"type": "home", "blocks": blocks[:100]}


def leaderboard_png(board: dict, title: str) -> bytes:
    """A bar chart of the board (used when mlplat.ops.leaderboard_chart is not available)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = board.get("rows") or []
    fig, ax = plt.subplots(figsize=(7, 0.4 * max(len(rows), 2) + 1.2), dpi=100)
    labels = [f"{r['rank']}. {r.get('model')} {r['id'][:6]}" for r in rows][::-1]
    ax.barh(labels, [r.get("value") or 0 for r in rows][::-1],
            xerr=[r.get("std") or 0 for r in rows][::-1], color="#4a7fb5")
    ax.set_xlabel(board.get("metric", ""))
    ax.set_title(title)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def as_text(text: str, blocks: list[dict] | None) -> str:
    """Blocks flattened for a terminal: section and context text, buttons as [labels]."""
    if not blocks:
        return text
    out = []
    for b in blocks:
        if b.get("type") in ("section",):
            out.append(b["text"]["text"].replace("```", ""))
        elif b.get("type") == "context":
            out.append(" ".join(e.get("text", "") for e in b["elements"]))
        elif b.get("type") == "header":
            out.append(b["text"]["text"].upper())
        elif b.get("type") == "actions":
            out.append("  ".join(f"[{e['text']['text']}: {e['action_id']} {e.get('value', '')}]"
                                 for e in b["elements"]))
    return "\n".join(out)


def to_json(blocks: list[dict]) -> str:
    return json.dumps(blocks)
