"""Operations on governance: the governance report, lineage of a model version, model cards.

Each reads the store (and the ``governance`` config group for its rules and the cards'
declared text) and returns plain data; a report is also recorded in ``governance_reports``
and audited, so the next report can say what changed and the trail shows who generated it.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from mlplat.errors import ConfigError, MlplatError
from mlplat.files import write_atomic
from mlplat.governance import card
from mlplat.governance import lineage as lin
from mlplat.governance import report as rep
from mlplat.governance.render import iso
from mlplat.governance.report_format import RENDERERS
from mlplat.governance.schema import governance_reports
from mlplat.ops.common import compose_plain, open_store
from mlplat.registry import versions
from mlplat.tracking import audit

FORMATS = ("md", "html", "json")


def _store(store):
    return store or open_store()


def _governance(governance: dict | None) -> dict:
    if governance is not None:
        return governance
    return compose_plain([]).get("governance") or {}


def _check_format(fmt: str, allowed: tuple[str, ...]) -> None:
    if fmt not in allowed:
        raise ConfigError(f"format {fmt!r} is not supported; use one of {', '.join(allowed)}")


def _write(path: str | Path, text: str) -> str:
    """Atomic write (temp file + rename) so a reader never sees half a report; one clear line on failure."""
    try:
        # readable by others (mkstemp makes it private): a report is meant to be shared
        return str(write_atomic(path, text.encode("utf-8"), mode=0o644))
    except OSError as exc:
        raise MlplatError(f"cannot write {str(path)!r}: {exc.strerror or exc}; choose a writable --output "
                          "(or fix reports_dir in conf/schedule)") from exc


def governance_report(*, since: float, fmt: str = "md", output: str | None = None, actor: str, source: str,
                      until: float | None = None, store=None, governance: dict | None = None) -> dict[str, Any]:
    """Build the report for [since, until] (until: now), write it to ``output`` and record its summary.

    Returns status (ok | warn | error), the one-line summary, the path (None without ``output``,
    then ``content`` holds the rendered text), the stored report id and the full report data.
    """
    _check_format(fmt, FORMATS)
    until = time.time() if until is None else float(until)
    if since >= until:
        raise ConfigError(f"the report period is empty: since ({iso(since)}) is not before {iso(until)}")
    store = _store(store)
    settings = _governance(governance)
    with store.read() as conn:
        data = rep.collect(conn, since=float(since), until=until, governance=settings)
    content = RENDERERS[fmt](data)
    path = _write(output, content) if output else None
    with store.write() as conn:
        report_id = conn.execute(governance_reports.insert().values(
            created_at=time.time(), since=float(since), until=until, actor=actor, source=source, format=fmt,
            path=path, status=data["status"], summary=json.dumps(rep.summarise(data), sort_keys=True),
        )).inserted_primary_key[0]
        audit.append(conn, actor=actor, source=source, action="governance.report", object_type="report",
                     object_id=str(report_id), payload={"status": data["status"], "path": path,
                                                        "violations": len(data["violations"])})
    out = {"id": int(report_id), "status": data["status"], "summary": data["summary"], "path": path,
           "violations": data["violations"], "report": data}
    if path is None:
        out["content"] = content
    return out


def lineage(ref: str, *, store=None, default_alias: str | None = None) -> dict[str, Any]:
    """Dataset -> run -> config/code -> version -> approvals -> alias changes for ``ref`` (name, name:3, name@alias).

    A bare name means the version the service serves (``default_alias``, else conf/serving
    ``alias``, e.g. production) when that alias exists, else the newest version; ``chosen`` says which.
    """
    store = _store(store)
    parsed = versions.parse_ref(ref)
    chosen = None
    if parsed.version is None and parsed.alias is None:
        alias = default_alias or str((compose_plain([]).get("serving") or {}).get("alias") or "production")
        with store.read() as conn:
            versions.resolve(conn, parsed)  # NotFound with the fix when the model is unknown
            on_alias = alias in versions.aliases_of(conn, parsed.name)
        ref = f"{parsed.name}@{alias}" if on_alias else ref
        chosen = f"the version on {alias}" if on_alias else f"the newest version ({parsed.name} has no {alias} alias)"
    data = lin.lineage(store, ref)
    data["chosen"] = chosen
    data["chain"] = lin.chain_rows(data)
    return data


def model_card(ref: str, *, fmt: str = "md", output: str | None = None, store=None,
               governance: dict | None = None) -> dict[str, Any]:
    """The model card of ``ref`` rendered as md, html or json; written to ``output`` when given."""
    _check_format(fmt, FORMATS)
    data = card.build(_store(store), ref, _governance(governance))
    content = card.RENDERERS[fmt](data)
    path = _write(output, content) if output else None
    return {"model": data["model"], "path": path, "content": content, "card": data}


__all__ = ["governance_report", "lineage", "model_card"]
