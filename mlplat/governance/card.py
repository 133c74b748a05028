"""Model cards: what a registered version is, how it was made and measured, who let it through.

Everything but intended use and limitations comes from the store (version, run, folds,
artifacts, approvals); those two are a person's statement and are declared in
``conf/governance`` under ``model_cards.<model name>`` (``default`` otherwise), so a card
never invents them. The reference profile is read from the run's ``profile.json``
artifact, checked against its recorded sha256 first.
"""

from __future__ import annotations

import json
import statistics
from typing import Any

import sqlalchemy as sa

from mlplat.errors import ArtifactIntegrityError
from mlplat.governance.lineage import lineage
from mlplat.governance.render import fmt_num, iso, md_table
from mlplat.registry import versions
from mlplat.registry.schema import model_aliases
from mlplat.reports import html as pages
from mlplat.tracking import artifacts as art
from mlplat.tracking.runs import get_run
from mlplat.tracking.store import Store

TOP_CATEGORIES = 3


def _fold_spread(folds: list[dict[str, float]], metric: str) -> dict[str, float | None]:
    values = [f[metric] for f in folds if f.get(metric) is not None]
    if not values:
        return {"min": None, "max": None, "std": None}
    return {"min": min(values), "max": max(values), "std": statistics.pstdev(values) if len(values) > 1 else 0.0}


def _profile(run: dict[str, Any]) -> dict[str, Any] | None:
    item = next((a for a in run["artifacts"] if a["name"] == "profile.json" and not a.get("pruned_at")), None)
    if item is None:
        return None
    try:
        profile = json.loads(art.read_verified(item["path"], item["sha256"]))
    except (ArtifactIntegrityError, OSError) as exc:
        return {"error": f"profile.json unreadable: {exc}"}
    features = []
    for name, f in (profile.get("features") or {}).items():
        row = {"feature": name, "kind": f.get("kind"), "null_share": f.get("null_share"), "error": f.get("error")}
        if f.get("kind") == "numeric":
            row["summary"] = (f"mean {fmt_num(f.get('mean'), 3)}, std {fmt_num(f.get('std'), 3)}, "
                              f"range [{fmt_num(f.get('min'), 3)}, {fmt_num(f.get('max'), 3)}]")
        else:
            counts = f.get("counts") or {}
            total = sum(counts.values()) or 1
            top = sorted(counts.items(), key=lambda kv: -kv[1])[:TOP_CATEGORIES]
            row["summary"] = f"{f.get('n_unique', len(counts))} categories; top " + ", ".join(
                f"{k} {v / total:.0%}" for k, v in top)
        features.append(row)
    preds = profile.get("predictions") or {}
    pred_cols = preds.get("columns") if isinstance(preds, dict) else None
    return {"n_rows": profile.get("n_rows"), "features": features,
            "predictions": sorted(pred_cols) if isinstance(pred_cols, dict) else bool(preds)}


def _data_profile(run: dict[str, Any]) -> dict[str, Any] | None:
    """The training dataset's profile summary the run stored beside its fingerprint (data_profile.json)."""
    from mlplat.errors import ArtifactIntegrityError
    from mlplat.tracking import artifacts as art

    item = next((a for a in run["artifacts"] if a["name"] == "data_profile.json" and not a.get("pruned_at")), None)
    if item is None:
        return None
    try:
        return json.loads(art.read_verified(item["path"], item["sha256"]))
    except (ArtifactIntegrityError, OSError, ValueError) as exc:
        return {"error": f"data_profile.json unreadable: {exc}"}


def _data_profile_section(summary: dict[str, Any] | None) -> tuple[str, str | None, list[str], list[list[Any]]]:
    if summary is None:
        return ("Data profile", "no data profile (the run has no data_profile.json artifact)", [], [])
    if summary.get("error"):
        return ("Data profile", summary["error"], [], [])
    text = (f"{summary['n_rows']} rows x {summary['n_columns']} columns, {summary['n_duplicate_rows']} duplicated "
            f"rows; {len(summary.get('warnings') or [])} warning(s)"
            + "".join(f"; {w['type']}: {w['message']}" for w in (summary.get("warnings") or [])[:5]))
    rows = [[name, c.get("kind"), fmt_num(c.get("missing_share"), 3), c.get("n_distinct")]
            for name, c in (summary.get("columns") or {}).items()]
    return ("Data profile", text, ["column", "kind", "missing share", "distinct"], rows)


def _champion(store: Store, version: dict[str, Any]) -> dict[str, Any] | None:
    """The current production version (if another one) and the primary metric side by side."""
    with store.read() as conn:
        prod = conn.execute(sa.select(model_aliases.c.version).where(
            model_aliases.c.name == version["name"], model_aliases.c.alias == "production")).scalar()
        if prod is None:
            return {"version": None, "note": "no production version yet"}
        if prod == version["version"]:
            return {"version": prod, "note": "this version is the production champion"}
        champ = versions.resolve(conn, versions.Ref(version["name"], version=prod))
    metric = version["primary_metric"]
    same_data = all(champ.get(k) == version.get(k) for k in ("dataset_fingerprint", "seed", "test_size"))
    rows = []
    for stage in ("cv", "holdout"):
        mine, theirs = version["metrics"].get(stage, {}).get(metric), champ["metrics"].get(stage, {}).get(metric)
        rows.append({"stage": stage, "metric": metric, "this": mine, "champion": theirs,
                     "delta": None if mine is None or theirs is None else mine - theirs})
    return {"version": prod, "comparable": same_data, "rows": rows,
            "note": "same data, seed and holdout split" if same_data
            else "different data, seed or split: the holdout numbers are not directly comparable"}


def build(store: Store, ref: str, governance: dict | None) -> dict[str, Any]:
    v = versions.get(store, versions.parse_ref(ref))
    run = get_run(store, v["run_id"])
    cfg = run.get("config") or {}
    dataset, model, features = cfg.get("dataset") or {}, cfg.get("model") or {}, cfg.get("features") or {}
    task = v["task"] or dataset.get("task")
    est_params = {**(model.get("params") or {}),
                  **(model.get("classifier_params" if task == "classification" else "regressor_params") or {})}
    metrics = []
    for name, value in sorted((v["metrics"].get("cv") or {}).items()):
        spread = _fold_spread(run.get("folds") or [], name)
        metrics.append({"metric": name, "cv_mean": value, **spread,
                        "holdout": (v["metrics"].get("holdout") or {}).get(name)})
    cards = (governance or {}).get("model_cards") or {}
    declared = {**(cards.get("default") or {}), **(cards.get(v["name"]) or {})}
    chain = lineage(store, f"{v['name']}:{v['version']}")
    return {
        "model": f"{v['name']}:{v['version']}", "aliases": v.get("aliases", []), "description": v.get("description"),
        "registered_at": v["created_at"], "registered_by": v["actor"], "run_id": v["run_id"],
        "task": task, "primary_metric": v["primary_metric"],
        "data": {"dataset": dataset.get("name"), "description": dataset.get("description"),
                 "source": dataset.get("source"), "target": dataset.get("target"),
                 "fingerprint": v["dataset_fingerprint"], "validation_passed": run["validation_passed"],
                 "test_size": v.get("test_size"), "seed": v.get("seed"),
                 "cv_folds": ((cfg.get("evaluation") or {}).get("cv") or {}).get("folds")},
        "features": {"set": features.get("name"), "inputs": (v.get("signature") or {}).get("inputs"),
                     "preprocessing": {k: features.get(k) for k in ("numeric", "categorical", "selection")
                                       if k in features}},
        "algorithm": {"name": model.get("name"),
                      "estimator": model.get("classifier" if task == "classification" else "regressor"),
                      "params": est_params, "tuned_params": run.get("params") or {}},
        "metrics": metrics,
        "champion": _champion(store, v),
        "reference_profile": _profile(run),
        "data_profile": _data_profile(run),
        "approvals": [{"request": r["id"], "target": r["target"], "status": r["status"], "requester": r["requester"],
                       "approvers": [a["approver"] for a in r["approvals"]], "decided_at": r["decided_at"]}
                      for r in chain["approvals"]],
        "lineage": {"config_hash": v["config_hash"], "code_version": v["code_version"],
                    "model_sha256": v["model_sha256"], "audit_agrees": all(c["ok"] is not False for c in chain["checks"])},
        "intended_use": declared.get("intended_use") or "not declared",
        "limitations": declared.get("limitations") or "not declared",
    }


def _inputs(card: dict[str, Any]) -> list[list[Any]]:
    inputs = card["features"]["inputs"] or []
    if isinstance(inputs, dict):
        return [[k, v] for k, v in inputs.items()]
    return [[i.get("name"), i.get("dtype")] if isinstance(i, dict) else [i, ""] for i in inputs]


def _sections(card: dict[str, Any]) -> list[tuple[str, str | None, list[str], list[list[Any]]]]:
    """(title, paragraph, table headers, table rows) in card order; renderers only lay them out."""
    d, a, champ, prof = card["data"], card["algorithm"], card["champion"], card["reference_profile"]
    champ_text = champ["note"] + (f" (production is version {champ['version']})" if champ.get("rows") else "")
    prof_text = ("no reference profile (the run has no profile.json artifact)" if prof is None
                 else prof.get("error") or f"reference of {prof['n_rows']} training rows")
    return [
        ("Intended use", card["intended_use"], [], []),
        ("Limitations", card["limitations"], [], []),
        ("Task", f"{card['task']}; primary metric {card['primary_metric']}", [], []),
        ("Data", f"{d['dataset']}: {d['description'] or ''}", ["property", "value"],
         [["source", d["source"]], ["target", d["target"]], ["fingerprint", d["fingerprint"]],
          ["validation passed", d["validation_passed"]], ["holdout share", d["test_size"]], ["seed", d["seed"]],
          ["cv folds", d["cv_folds"]]]),
        ("Features", f"feature set {card['features']['set']}; preprocessing "
                     f"{json.dumps(card['features']['preprocessing'], default=str)}", ["input", "dtype"],
         _inputs(card)),
        ("Algorithm and parameters", f"{a['name']} ({a['estimator']})", ["parameter", "value"],
         [[k, v] for k, v in sorted({**a["params"], **a["tuned_params"]}.items())]),
        ("Metrics", "cross-validation mean with the spread over folds, and the held-out score",
         ["metric", "cv mean", "fold min", "fold max", "fold std", "holdout"],
         [[m["metric"], fmt_num(m["cv_mean"]), fmt_num(m["min"]), fmt_num(m["max"]), fmt_num(m["std"]),
           fmt_num(m["holdout"])] for m in card["metrics"]]),
        ("Comparison with the champion", champ_text,
         ["stage", "metric", "this version", "champion", "delta"] if champ.get("rows") else [],
         [[r["stage"], r["metric"], fmt_num(r["this"]), fmt_num(r["champion"]), fmt_num(r["delta"])]
          for r in champ.get("rows") or []]),
        _data_profile_section(card.get("data_profile")),
        ("Reference profile", prof_text, ["feature", "kind", "null share", "summary"],
         [[f["feature"], f["kind"], fmt_num(f["null_share"], 3), f.get("error") or f.get("summary", "")]
          for f in (prof or {}).get("features", [])]),
        ("Approvals", None if card["approvals"] else "no promotion requested yet",
         ["request", "target", "status", "requester", "approvers", "decided"],
         [[r["request"], r["target"], r["status"], r["requester"], ", ".join(r["approvers"]) or "–",
           iso(r["decided_at"])] for r in card["approvals"]]),
        ("Lineage", "audit trail agrees with the store" if card["lineage"]["audit_agrees"]
         else "AUDIT TRAIL DISAGREES WITH THE STORE: see `mlplat lineage`", ["link", "value"],
         [["run", card["run_id"]], ["config hash", card["lineage"]["config_hash"]],
          ["code version", card["lineage"]["code_version"]], ["model sha256", card["lineage"]["model_sha256"]]]),
    ]


def _title(card: dict[str, Any]) -> str:
    aliases = f" [{', '.join(card['aliases'])}]" if card["aliases"] else ""
    return f"Model card: {card['model']}{aliases}"


def to_markdown(card: dict[str, Any]) -> str:
    out = [f"# {_title(card)}", "",
           f"Registered {iso(card['registered_at'])} by {card['registered_by']} from run {card['run_id']}."
           + (f" {card['description']}" if card["description"] else ""), ""]
    for title, text, headers, rows in _sections(card):
        out += [f"## {title}", ""]
        if text:
            out += [text, ""]
        if headers:
            out += [md_table(headers, rows)]
    return "\n".join(out)


def to_html(card: dict[str, Any]) -> str:
    """The card as one self-contained page (template model_card.html)."""
    return pages.render("model_card.html", title=_title(card), card=card, registered=iso(card["registered_at"]),
                        sections=_sections(card), generated=None)


RENDERERS = {"md": to_markdown, "html": to_html, "json": lambda card: json.dumps(card, indent=2, default=str) + "\n"}
