"""Alert events from monitoring checks, deduplicated through the store.

Why in the store: the scheduler, the Slack bot and a CLI user may check the same model
within minutes of each other, each in its own process; an in-memory "already sent" set
would page the on-call once per process. A key (model, kind, feature, status) sent within
the cool-down is not sent again. The check-and-record happens in one write transaction
(SQLite serialises writers; on PostgreSQL a transaction-scoped advisory lock per model
does the same), so two processes racing send the alert once. Delivery happens after the
commit, through whatever :func:`mlplat.notify.get_notifier` the front door installed.
"""

from __future__ import annotations

import time
import zlib
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from mlplat.monitoring.schema import monitor_alerts
from mlplat.notify import get_notifier


@dataclass(frozen=True)
class Finding:
    """One alerting observation of a check: ``feature`` is a column, metric, percentile or ``dataset``."""
    feature: str
    status: str
    detail: str


@dataclass
class Decision:
    new: list[Finding] = field(default_factory=list)
    suppressed: list[Finding] = field(default_factory=list)

    @property
    def send(self) -> bool:
        return bool(self.new)


def dedup_key(model: str, kind: str, feature: str, status: str) -> str:
    return f"{model}|{kind}|{feature}|{status}"


def _lock(conn: sa.Connection, model: str) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": zlib.crc32(f"mlplat-alert:{model}".encode())})


def decide(conn: sa.Connection, *, model: str, kind: str, findings: list[Finding], cooldown_s: float,
           check_id: int | None, now: float | None = None) -> Decision:
    """Split ``findings`` into new and suppressed, recording each in the ledger (caller's transaction)."""
    now = time.time() if now is None else now
    _lock(conn, model)
    decision = Decision()
    rows = []
    for f in findings:
        key = dedup_key(model, kind, f.feature, f.status)
        recent = conn.execute(sa.select(monitor_alerts.c.id).where(
            monitor_alerts.c.dedup_key == key, monitor_alerts.c.sent.is_(True),
            monitor_alerts.c.created_at >= now - cooldown_s).limit(1)).first()
        (decision.suppressed if recent else decision.new).append(f)
        rows.append({"created_at": now, "model": model, "kind": kind, "feature": f.feature[:200], "status": f.status,
                     "dedup_key": key[:400], "check_id": check_id, "sent": recent is None})
    if rows:
        conn.execute(monitor_alerts.insert(), rows)
    return decision


def event(*, kind: str, model: str, version: int | None, status: str, decision: Decision, title: str,
          attachments: list[str], details: dict[str, Any]) -> dict[str, Any]:
    """The notifier event (shape documented in mlplat.notify) for a decision with new findings."""
    lines = [f"{f.feature}: {f.status} ({f.detail})" for f in decision.new]
    if decision.suppressed:
        lines.append(f"{len(decision.suppressed)} finding(s) already alerted within the cool-down: "
                     + ", ".join(f.feature for f in decision.suppressed))
    return {
        "kind": kind, "title": title, "text": "\n".join(lines), "status": status, "model": model, "version": version,
        "details": {**details, "new": [f.feature for f in decision.new],
                    "suppressed": [f.feature for f in decision.suppressed]},
        "attachments": [a for a in attachments if a],
        "dedup_key": ";".join(sorted(dedup_key(model, kind, f.feature, f.status) for f in decision.new)),
    }


def deliver(ev: dict[str, Any]) -> str | None:
    """Hand ``ev`` to the installed notifier; returns the failure text instead of raising (the check stands)."""
    try:
        get_notifier().notify(ev)
    except Exception as exc:  # noqa: BLE001 - a broken channel must not undo a recorded check
        return f"{type(exc).__name__}: {exc}"
    return None
