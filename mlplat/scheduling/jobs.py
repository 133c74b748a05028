"""The job types a schedule can declare. Each is ``fn(params, ctx) -> summary`` over mlplat.ops.

A job raises on failure (the runner records it, alerts, and the other jobs go on) and
returns a one-line summary on success. Reports are always written to files; the notifier
(console + JSON lines, or the Slack bot's) gets the event with the files attached.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from mlplat import ops
from mlplat.errors import ConfigError, MlplatError
from mlplat.evaluation.metrics import DEFAULT_PRIMARY
from mlplat.scheduling.triggers import parse_every
from mlplat.tracking.schema import runs

ACTOR = "scheduler"
SOURCE = "schedule"


@dataclass
class JobContext:
    job: str
    reports_dir: Path
    notifier: Any

    def report_path(self, suffix: str) -> Path:
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
        self.reports_dir.mkdir(parents=True, exist_ok=True)
        return self.reports_dir / f"{self.job}-{stamp}.{suffix}"


def _seconds(params: dict, key: str, default: str) -> float:
    return parse_every(str(params.get(key, default)), f"schedule job param {key}").total_seconds()


def _production_models() -> list[tuple[str, int]]:
    return [(m["name"], m["aliases"]["production"]) for m in ops.list_models() if "production" in m.get("aliases", {})]


def drift_check(params: dict, ctx: JobContext) -> str:
    """A drift check per production model over its recent prediction log."""
    if not hasattr(ops, "check_drift"):
        raise MlplatError("drift checks need the monitoring operations (mlplat.ops.check_drift), which are not installed")
    models = params.get("models") or [name for name, _ in _production_models()]
    if not models:
        return "no production model to check"
    window = _seconds(params, "window", "24h")
    statuses = []
    for name in models:
        result = ops.check_drift(name, since=time.time() - window, actor=ACTOR, source=SOURCE)
        statuses.append(f"{name}: {result.get('status')}")
    return "; ".join(statuses)


def governance_report(params: dict, ctx: JobContext) -> str:
    if not hasattr(ops, "governance_report"):
        raise MlplatError("the governance report operation (mlplat.ops.governance_report) is not installed")
    fmt = str(params.get("format", "md"))
    path = ctx.report_path({"md": "md", "html": "html", "json": "json"}.get(fmt, fmt))
    result = ops.governance_report(since=time.time() - _seconds(params, "since", "7d"), fmt=fmt, output=str(path),
                                   actor=ACTOR, source=SOURCE)
    ctx.notifier.notify({"kind": "report", "title": "Governance report", "status": result.get("status", "ok"),
                         "text": result.get("summary", ""), "attachments": [str(path)], "details": {"job": ctx.job}})
    return f"governance report written to {path}"


def leaderboard_digest(params: dict, ctx: JobContext) -> str:
    """The window's best runs per experiment, as a table (and the PNG chart when available)."""
    since = time.time() - _seconds(params, "since", "7d")
    top = int(params.get("top", 5))
    store = ops.open_store()
    with store.read() as conn:
        experiments = conn.execute(
            sa.select(runs.c.experiment, runs.c.task).where(runs.c.started_at >= since, runs.c.status == "done")
            .group_by(runs.c.experiment, runs.c.task).order_by(runs.c.experiment)).all()
    lines, attachments = [], []
    for experiment, task in experiments:
        metric = DEFAULT_PRIMARY.get(task or "classification", "roc_auc")
        board = ops.leaderboard(metric=metric, filters={"experiment": experiment}, since=since, top=top, store=store)
        lines.append(f"*{experiment}* ({metric}, {board['direction']})")
        lines += [f"{r['rank']}. {r['id']} {r['model']} {r['value']:.4f} ± {(r['std'] or 0):.4f}" for r in board["rows"]]
        if hasattr(ops, "leaderboard_chart") and board["rows"]:
            png = ctx.report_path(f"{experiment}.{metric}.png")
            png.write_bytes(ops.leaderboard_chart(metric=metric, filters={"experiment": experiment}, top=top, fmt="png"))
            attachments.append(str(png))
    text = "\n".join(lines) or "no finished runs in the window"
    trail = ops.audit_verify(store=store)
    cp = trail["last_checkpoint"]
    text += (f"\naudit trail: {'verified' if trail['ok'] else 'BROKEN (' + trail['reason'] + ')'}, "
             f"{trail['entries']} entries; newest checkpoint "
             + (f"#{cp['id']} at entry {cp['seq']} ({cp['hash'][:12]})" if cp else "none"))
    path = ctx.report_path("md")
    path.write_text("# Leaderboard digest\n\n" + text + "\n")
    ctx.notifier.notify({"kind": "report", "title": "Leaderboard digest", "status": "ok", "text": text,
                         "attachments": [str(path), *attachments], "details": {"job": ctx.job}})
    return f"{len(experiments)} experiment(s) in the digest"


def stale_model_check(params: dict, ctx: JobContext) -> str:
    max_age = _seconds(params, "max_age", "90d")
    stale = []
    for name, version in _production_models():
        v = ops.show_model(f"{name}:{version}")
        age = time.time() - float(v.get("created_at") or time.time())
        if age > max_age:
            stale.append(f"{name}:{version} is {age / 86400:.0f} days old")
    if stale:
        ctx.notifier.notify({"kind": "stale_model", "title": "Production models older than the allowed age",
                             "status": "warn", "text": "; ".join(stale), "details": {"job": ctx.job}})
    return "; ".join(stale) or "no stale production model"


def audit_verify(params: dict, ctx: JobContext) -> str:
    result = ops.audit_verify()
    if not result.get("ok"):
        ctx.notifier.notify({"kind": "audit", "title": "Audit trail does not verify", "status": "error",
                             "text": result.get("reason", ""), "details": result})
        raise MlplatError(f"audit trail does not verify: {result.get('reason')}")
    return f"audit chain verified ({result.get('entries')} entries)"


def audit_checkpoint(params: dict, ctx: JobContext) -> str:
    """Sign the audit trail's head (after verifying it), so entries cut from its end are detected;
    the checkpoint is posted so its head is also on record outside the database."""
    try:
        cp = ops.audit_checkpoint(actor=ACTOR, source=SOURCE)
    except MlplatError as exc:
        ctx.notifier.notify({"kind": "audit", "title": "Audit trail does not verify", "status": "error",
                             "text": str(exc), "details": {"job": ctx.job}})
        raise
    text = f"audit checkpoint {cp['id']}: entry {cp['seq']} ({cp['hash'][:12]}) signed with key {cp['key_id']}"
    ctx.notifier.notify({"kind": "report", "title": "Audit checkpoint", "status": "ok", "text": text,
                         "details": {"job": ctx.job, "seq": cp["seq"], "hash": cp["hash"]}})
    return text


def data_check(params: dict, ctx: JobContext) -> str:
    """A declared dataset's fresh extract: its schema, and drift from the last accepted extract; alerts when broken."""
    from mlplat import ops

    name = str(params["dataset"])
    result = ops.data_check(name, state_dir=str(params.get("state_dir") or "runs/data_checks"),
                            current=params.get("current"))
    status = result["status"]
    if status in ("schema", "drift"):
        declared = (result.get("schema") or {}).get("declared") or {}
        drift = result.get("drift") or {}
        worst = [f"{k} ({f.get('reason')})" for k, f in (drift.get("features") or {}).items() if f["status"] == "drift"]
        text = declared.get("message") if status == "schema" and not declared.get("ok", True) else \
            f"{drift.get('n_drifted')}/{drift.get('n_checked')} columns drifted from the last accepted extract: " \
            + "; ".join(worst[:5])
        if status == "schema" and declared.get("ok", True):
            text = f"columns removed {result['schema'].get('removed')}, dtype changed " \
                   f"{[d['column'] for d in result['schema'].get('dtype_changed') or []]}"
        ctx.notifier.notify({"kind": "data_check", "title": f"Dataset {name}: "
                                                            f"{'breaks its schema' if status == 'schema' else 'drifted'}",
                             "status": "error" if status == "schema" else "warn", "text": text,
                             "dedup_key": f"data_check:{name}:{status}",
                             "details": {"job": ctx.job, "dataset": name, "input": result["input"],
                                         "rows": result["rows"], "accepted": result["accepted"]}})
        return f"dataset {name}: {status} ({text}); the last accepted extract stays the reference"
    return f"dataset {name}: {status}, {result['rows']} rows accepted as the reference"


JOB_TYPES: dict[str, Callable[[dict, JobContext], str]] = {
    "drift_check": drift_check,
    "governance_report": governance_report,
    "leaderboard_digest": leaderboard_digest,
    "stale_model_check": stale_model_check,
    "audit_verify": audit_verify,
    "audit_checkpoint": audit_checkpoint,
    "data_check": data_check,
}


def job_type(name: str, where: str) -> Callable[[dict, JobContext], str]:
    try:
        return JOB_TYPES[name]
    except KeyError:
        raise ConfigError(f"{where}: unknown job type {name!r}; expected one of {', '.join(JOB_TYPES)}") from None
