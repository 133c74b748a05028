"""How a monitoring check is kept: report files written atomically, the check row, the deduplicated alert.
Helpers of ``mlplat.ops.monitoring``."""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path
from typing import Any

from mlplat.errors import MonitoringError
from mlplat.files import write_atomic
from mlplat.monitoring import alerts
from mlplat.monitoring.schema import monitor_checks
from mlplat.monitoring.settings import KINDS, seconds  # noqa: F401 - KINDS re-exported
from mlplat.ops.monitoring_inputs import (
    _Context,
)
from mlplat.tracking import audit

OUTPUT_FORMATS = ("json", "html")


def _stamp() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")


def _write(path: str | Path, text: str) -> str:
    """Atomic write (temp file + rename): a reader (the bot uploading a report) never sees half of it."""
    try:
        # readable by others (mkstemp makes it private): a report is meant to be shared
        return str(write_atomic(path, text.encode("utf-8"), mode=0o644))
    except OSError as exc:
        raise MonitoringError(f"cannot write {str(path)!r}: {exc.strerror or exc}; choose a writable --output "
                              "(or fix monitor.reports_dir)") from exc


def _json_text(obj: Any) -> str:
    return json.dumps(obj, indent=2, sort_keys=True, default=str, allow_nan=False)


def _jsonable(obj: Any) -> Any:
    """NaN/inf (e.g. a metric on one class) become None so reports stay strict JSON."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    return obj


# ----------------------------------------------------------------------------- recording and alerts
def _record(ctx: _Context, *, kind: str, out: dict[str, Any], statuses: dict[str, str], summary: dict[str, Any],
            actor: str, source: str) -> int:
    window = out.get("window") or {}
    with ctx.store.write() as conn:
        check_id = conn.execute(monitor_checks.insert().values(
            created_at=out["checked_at"], kind=kind, model=out["model"], version=out.get("version"),
            window_start=window.get("start"), window_end=window.get("end"), input=out.get("input"),
            n_rows=out.get("n_rows"), status=out["status"], features=json.dumps(statuses, sort_keys=True),
            summary=json.dumps(_jsonable(summary), sort_keys=True), report_json=out["reports"].get("json"),
            report_html=out["reports"].get("html"), actor=actor, source=source,
        )).inserted_primary_key[0]
        audit.append(conn, actor=actor, source=source, action=f"monitor.{kind}", object_type="model",
                     object_id=f"{out['model']}:{out.get('version')}" if out.get("version") else out["model"],
                     payload={"check_id": int(check_id), "status": out["status"], "input": out.get("input"),
                              "report": out["reports"].get("json")})
    return int(check_id)


def _alert(ctx: _Context, *, kind: str, out: dict[str, Any], findings: list, title: str) -> dict[str, Any]:
    """Record the findings in the dedup ledger and send the new ones (see mlplat.monitoring.alerts)."""
    alarm = set(ctx.settings["alerts"]["statuses"])
    findings = [f for f in findings if f.status in alarm]
    if not findings:
        return {"sent": False, "new": [], "suppressed": []}
    cooldown = seconds(ctx.settings["alerts"]["cooldown"], "alerts.cooldown")
    with ctx.store.write() as conn:
        decision = alerts.decide(conn, model=out["model"], kind=kind, findings=findings, cooldown_s=cooldown,
                                 check_id=out.get("check_id"))
    result: dict[str, Any] = {"sent": decision.send, "new": [f.feature for f in decision.new],
                              "suppressed": [f.feature for f in decision.suppressed]}
    if decision.send:
        ev = alerts.event(kind=kind, model=out["model"], version=out.get("version"), status=out["status"],
                          decision=decision, title=title,
                          attachments=[out["reports"].get("html"), out["reports"].get("json")],
                          details={"check_id": out.get("check_id"), "input": out.get("input"),
                                   "window": out.get("window")})
        failure = alerts.deliver(ev)
        if failure:
            result["error"] = failure
    return result


def _fail_if_nothing_checked(out: dict[str, Any], reason: str) -> None:
    if out["status"] == "error":
        where = out["reports"].get("html") or out["reports"].get("json")
        exc = MonitoringError(f"nothing could be checked for {out['ref']}: {reason}"
                              + (f" (report: {where})" if where else ""))
        exc.result = out  # type: ignore[attr-defined]
        raise exc


# ----------------------------------------------------------------------------- drift
def _strip_plots(features: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {k: {kk: vv for kk, vv in v.items() if kk != "plot"} for k, v in features.items()}


def _output_format(fmt: str | None, output: str | None) -> str | None:
    if fmt is None or fmt == "table":
        if output is None:
            return None
        return "html" if Path(output).suffix.lower() in (".html", ".htm") else "json"
    if fmt not in OUTPUT_FORMATS:
        raise MonitoringError(f"report format {fmt!r} is not supported; use one of {', '.join(OUTPUT_FORMATS)}")
    return fmt
