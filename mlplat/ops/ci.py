"""CI/CD operations: check the tree, evaluate a change against production, deploy what passed.

The rules live here and below: a candidate is trained by the engine exactly as `mlplat train`
trains it (the same pre-check, composition and ``run_experiment``; recorded with source
``ci``, the commit and the pull request as tags), its gates are the registry's own
(``approvals.evaluate_gates`` over ``versions.candidate_of_run``: the same evaluation a
promotion runs), like-for-like means the registry's ``comparable`` (same dataset
fingerprint, seed and test size, so the same held-out rows), and deploy files its promotion
requests through ``request_promotion``, so policy, four-eyes and expiry hold. Each
evaluated candidate is an audit entry ``ci.report`` (verdict, summary, pull request): the
deploy on the main branch finds the pull request of the change it deploys there.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any

from mlplat.errors import ConfigError, MlplatError

VERDICT_EXIT = {"pass": 0, "review": 0, "none": 0, "fail": 1, "error": 2}


# -- where the change comes from ---------------------------------------------------------------
def ci_pull_request(pr: int | None = None, env: dict[str, str] | None = None) -> dict[str, Any]:
    """{provider, number, url} of the pull/merge request this CI job runs for (number None: none)."""
    from mlplat.ci.pr import pull_request

    return pull_request(pr, dict(os.environ if env is None else env))


def _split(overrides: list[str]) -> tuple[list[str], list[str]]:
    """experiment=a,b -> (["a", "b"], the other overrides)."""
    names: list[str] = []
    rest: list[str] = []
    for o in overrides:
        key, sep, value = o.partition("=")
        if sep and key.lstrip("+") == "experiment":
            names += [v.strip() for v in value.split(",") if v.strip()]
        else:
            rest.append(o)
    return names, rest


def ci_report_path(path: str | None, fmt: str | None = None) -> Path | None:
    """The report's path, made sure writable before anything trains; None: no report file."""
    if not path:
        return None
    from mlplat.ci.report import format_of

    p = Path(path)
    format_of(p, fmt)
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        with open(p, "a"):
            pass
    except OSError as exc:
        raise ConfigError(f"report path {path!r} is not writable ({exc.strerror}); choose another --report") from None
    return p


# -- one candidate ----------------------------------------------------------------------------------
def _metric_rows(cand_run: dict, champion: dict | None) -> list[dict[str, Any]]:
    from mlplat.evaluation.metrics import get_metric

    cv = (cand_run.get("metrics") or {}).get("cv") or {}
    hold = (cand_run.get("metrics") or {}).get("holdout") or {}
    champ = ((champion or {}).get("metrics") or {}).get("holdout") or {}
    rows = []
    for metric in sorted(set(hold) | set(cv)):
        c, p = hold.get(metric), champ.get(metric)
        try:
            higher = get_metric(metric).greater_is_better
        except MlplatError:
            higher = True
        delta = c - p if c is not None and p is not None else None
        better = None if delta is None else (delta > 0 if higher else delta < 0) if delta else None
        rows.append({"metric": metric, "candidate": c, "production": p, "delta": delta, "better": better,
                     "higher_is_better": higher, "cv_mean": (cv.get(metric) or {}).get("value"),
                     "cv_std": (cv.get(metric) or {}).get("std")})
    return rows


def _differences(cand_run: dict, champ_run: dict | None) -> list[str]:
    """What makes the two holdouts different, in words (empty: like-for-like)."""
    if champ_run is None:
        return []
    out = []
    a, b = cand_run.get("config") or {}, champ_run.get("config") or {}
    if cand_run.get("dataset_fingerprint") != champ_run.get("dataset_fingerprint"):
        out.append(f"dataset fingerprint {str(champ_run.get('dataset_fingerprint'))[:12]} -> "
                   f"{str(cand_run.get('dataset_fingerprint'))[:12]} (the data changed)")
    for label, get in (("seed", lambda c: c.get("seed")),
                       ("test size", lambda c: (c.get("evaluation") or {}).get("test_size")),
                       ("dataset", lambda c: (c.get("dataset") or {}).get("name")),
                       ("CV folds", lambda c: ((c.get("evaluation") or {}).get("cv") or {}).get("folds"))):
        if get(a) != get(b):
            out.append(f"{label} {get(b)} -> {get(a)}")
    return out


def _drift(plain: dict, champ_run: dict | None, monitor: dict | None) -> dict[str, Any] | None:
    """The new training data against the champion's reference profile (None: same data or no champion)."""
    if champ_run is None:
        return None
    from mlplat.engine import prepare_xy
    from mlplat.monitoring.drift import check_drift
    from mlplat.monitoring.settings import drift_config, load
    from mlplat.tracking import artifacts as art

    profile = next((a for a in champ_run.get("artifacts") or [] if a["name"] == "profile.json"
                    and not a.get("pruned_at")), None)
    if profile is None:
        return {"status": "error", "note": f"run {champ_run['id']} of the production version has no reference "
                                           "profile: no drift summary"}
    try:
        from mlplat.data import sources

        features = prepare_xy(sources.load(plain["dataset"]), plain["dataset"])[0]
        result = check_drift(json.loads(art.read_verified(profile["path"], profile["sha256"])), features,
                             config=drift_config(load(monitor))).to_dict()
    except MlplatError as exc:
        return {"status": "error", "note": str(exc)}
    feats = sorted(result["features"].values(), key=lambda f: ({"drift": 0, "warn": 1}.get(f["status"], 2),
                                                               -(f.get("score") or 0)))
    return {"status": result["status"], "n_drifted": result["n_drifted"], "n_checked": result["n_checked"],
            "share_drifted": result["share_drifted"],
            "worst": [{"name": f["name"], "status": f["status"], "method": f.get("method"),
                       "score": f.get("score")} for f in feats[:5]]}


def _summary(exp: dict[str, Any]) -> str:
    if exp["verdict"] == "error":
        return f"{exp['experiment']}: error: {exp['error']}"
    primary = exp["primary_metric"]
    row = next((r for r in exp["metrics"] if r["metric"] == primary), None) or {}
    target = exp["target"]
    if exp["champion"] is None:
        base = f"no {target} version of {exp['model']} yet"
    else:
        delta = row.get("delta")
        word = "beats" if row.get("better") else ("ties" if delta == 0 else "does not beat")
        how = "on the same holdout" if exp["comparable"] else "NOT like-for-like (" + "; ".join(
            exp["differences"]) + ")"
        base = (f"{primary} {_num(row.get('candidate'))} vs {target} v{exp['champion']['version']} "
                f"{_num(row.get('production'))} ({_signed(delta)}): {word} {target} {how}")
    failed = [g["gate"] for g in exp["gates"] if g["status"] == "fail"]
    review = [g["gate"] for g in exp["gates"] if g["status"] == "review"]
    gates = ("gates FAIL: " + ", ".join(failed)) if failed else (
        ("gates pass, review needed: " + ", ".join(review)) if review else "all gates pass")
    return f"{exp['experiment']} -> {exp['model']}: {base}; {gates}"


def _num(v: Any) -> str:
    return "-" if v is None else f"{v:.4f}"


def _signed(v: Any) -> str:
    return "-" if v is None else f"{v:+.4f}"


def _evaluate(name: str, rest: list[str], *, e_files: list[str], settings: dict, policy: dict, target: str,
              context: dict, actor: str, source: str, store, base: str | None, root: Path,
              monitor: dict | None, plain: dict | None = None) -> dict[str, Any]:
    from mlplat.ci import affected as aff
    from mlplat.ci.settings import model_name
    from mlplat.engine import RunContext
    from mlplat.errors import one_line
    from mlplat.heartbeat import Heartbeat
    from mlplat.ops.listing import show_run
    from mlplat.ops.runs import check_train_overrides, run_experiment
    from mlplat.registry import approvals, versions
    from mlplat.registry import policy as pol

    overrides = [f"experiment={name}", *rest]
    model = model_name(settings, name)
    exp: dict[str, Any] = {"experiment": name, "model": model, "target": target, "overrides": overrides,
                           "files": e_files, "run_id": None, "verdict": "error", "error": None, "metrics": [],
                           "gates": [], "champion": None, "comparable": None, "differences": [], "drift": None,
                           "config_diff": aff.diff_lines(base, e_files, int(settings["max_diff_lines"]), cwd=root)
                           if base else []}
    try:
        # the pre-check `mlplat train` runs, and the same composition
        plain = plain if plain is not None else check_train_overrides(overrides)
        tags = {k: str(v) for k, v in (("ci_commit", context["commit"]), ("ci_base", base),
                                       ("ci_pr", context["pr"]["number"]), ("ci_pr_url", context["pr"]["url"]))
                if v is not None}
        invocation = uuid.uuid4().hex[:16]
        ctx = RunContext(actor=actor, source=source, overrides=overrides, invocation_id=invocation, tags=tags)
        with Heartbeat(store, invocation):
            outcome = run_experiment(plain, ctx)
        run = show_run(outcome.run_id, store=store)
        exp["run_id"], exp["primary_metric"], exp["config_hash"] = run["id"], run["primary_metric"], run["config_hash"]
        exp["fingerprint"] = run["dataset_fingerprint"]
        cand = versions.candidate_of_run(run, versions.check_name(model))
        with store.read() as conn:
            gates, champion = approvals.evaluate_gates(conn, policy, cand, target)
        champ_run = show_run(champion["run_id"], store=store) if champion else None
        exp["gates"] = gates
        exp["metrics"] = _metric_rows(run, champion)
        if champion:
            exp["champion"] = {"version": champion["version"], "run_id": champion["run_id"],
                               "fingerprint": champion["dataset_fingerprint"]}
            exp["comparable"] = pol.comparable(cand, champion)[0]
            exp["differences"] = _differences(run, champ_run)
            if champion["dataset_fingerprint"] != run["dataset_fingerprint"]:
                exp["drift"] = _drift(plain, champ_run, monitor)
        statuses = {g["status"] for g in gates}
        exp["verdict"] = "fail" if "fail" in statuses else "review" if "review" in statuses else "pass"
    except MlplatError as exc:
        exp["error"] = one_line(exc)
        exp["run_id"] = exp["run_id"] or getattr(exc, "mlplat_run_id", None)
    exp["summary"] = _summary(exp)
    return exp


def _record(store, exp: dict[str, Any], context: dict, *, actor: str, source: str, stage: str) -> None:
    from mlplat.tracking import audit

    if not exp.get("run_id"):
        return
    with store.write() as conn:
        audit.append(conn, actor=actor, source=source, action="ci.report", object_type="run", object_id=exp["run_id"],
                     payload={"stage": stage, "experiment": exp["experiment"], "model": exp["model"],
                              "target": exp["target"], "verdict": exp["verdict"], "summary": exp["summary"],
                              "config_hash": exp.get("config_hash"), "commit": context["commit"],
                              "base": context["base"], "pr": context["pr"]["number"], "pr_url": context["pr"]["url"],
                              "report": context.get("report")})


def evaluate_change(overrides: list[str] | None = None, *, base: str | None, actor: str, source: str = "ci",
                    pr: int | None = None, target: str | None = None, report: str | None = None,
                    report_format: str | None = None, stage: str = "pull_request", store=None) -> dict[str, Any]:
    """Train what the change touches and compare each candidate with its target alias.

    ``overrides``: ``experiment=a,b`` names experiments explicitly (else the diff from
    ``base`` decides); the other overrides apply to every experiment. Returns the report
    data; ``exit_code`` is 0 when every gate passes (or nothing is affected), 1 when a gate
    fails, 2 when an experiment could not be trained or compared.
    """
    from mlplat.ci import affected as aff
    from mlplat.ci import settings as ci_settings
    from mlplat.ops.common import compose_plain, open_store
    from mlplat.ops.runs import check_train_overrides

    names, rest = _split(list(overrides or []))
    if not names and not base:
        raise ConfigError("nothing to evaluate: give --base REF (the branch the change goes into, e.g. origin/main) "
                          "or name experiments with experiment=NAME")
    root = aff.toplevel()
    changed = aff.changed_files(base, root) if base else []
    experiments, unmapped = aff.affected(changed, root, names or None, with_files=bool(base))
    prechecked: dict[str, dict] = {}
    if experiments:  # its composition gives the settings too: one Hydra composition fewer
        try:
            prechecked[experiments[0].name] = check_train_overrides([f"experiment={experiments[0].name}", *rest])
        except MlplatError:
            pass  # reported as that experiment's error below
    plain = next(iter(prechecked.values()), None) or compose_plain(rest)
    settings = ci_settings.load(plain)
    target = target or settings["target"]
    policy = plain.get("registry") or {}
    from mlplat.registry.policy import target_policy

    target_policy(policy, target)  # an alias without a policy: one line before anything trains
    # a pull request's run always writes its report; a deploy only when asked
    report_path = ci_report_path(report or (settings["report"] if stage != "deploy" else None), report_format)
    context = {"commit": aff.head(root), "base": aff.resolve_ref(base, root) if base else None,
               "base_ref": base, "pr": ci_pull_request(pr), "report": str(report_path) if report_path else None}
    store = store or open_store(plain["tracking"])
    results = [_evaluate(e.name, rest, e_files=e.files, settings=settings, policy=policy, target=target,
                         context=context, actor=actor, source=source, store=store, base=base, root=root,
                         monitor=plain.get("monitor"), plain=prechecked.get(e.name)) for e in experiments]
    for exp in results:
        _record(store, exp, context, actor=actor, source=source, stage=stage)
    verdicts = [e["verdict"] for e in results]
    verdict = "error" if "error" in verdicts else "fail" if "fail" in verdicts else \
        "review" if "review" in verdicts else "pass" if verdicts else "none"
    return {**context, "target": target, "changed_files": changed, "unmapped_files": unmapped,
            "experiments": results, "verdict": verdict, "exit_code": VERDICT_EXIT[verdict]}


def _pull_request_of(store, exp: dict[str, Any]) -> dict[str, Any] | None:
    """The ci.report entry of the pull request that evaluated the same config (newest first)."""
    from mlplat.ops.listing import audit_log

    for entry in audit_log(action="ci.report", limit=500, store=store):
        payload = json.loads(entry["payload"]) if isinstance(entry["payload"], str) else entry["payload"]
        if payload.get("stage") == "pull_request" and payload.get("experiment") == exp["experiment"] \
                and payload.get("config_hash") == exp.get("config_hash") and payload.get("pr") is not None:
            return payload
    return None


def ci_deploy(overrides: list[str] | None = None, *, base: str, actor: str, source: str = "ci", pr: int | None = None,
           target: str | None = None, report: str | None = None, store=None) -> dict[str, Any]:
    """On the main branch after a merge: evaluate the change again (trained from the merged tree),
    register each candidate whose gates pass and file its promotion request (the same operation
    as `mlplat models promote`). Nothing is registered when any experiment errored."""
    from mlplat.ops import access as acc
    from mlplat.ops.common import compose_plain, open_store
    from mlplat.ops.registry import register, request_promotion
    from mlplat.registry import policy as pol

    plain = compose_plain([])
    chosen = target or (plain.get("ci") or {}).get("target") or "production"
    # refused before anything trains or registers: deploy may only file what the actor may request
    who = acc.identity(actor, source)
    settings = acc.settings(plain.get("access"))
    for operation in ("train", "register", "promote"):
        acc.check(operation, who, settings, what=f"{operation} (mlplat ci deploy)")
    policy = acc.registry_policy(plain.get("registry") or {}, who, settings)
    pol.require_role(policy, actor, pol.target_policy(policy, chosen).get("requester_roles") or [],
                     f"request a promotion to {chosen}")
    store = store or open_store(plain["tracking"])
    result = evaluate_change(overrides, base=base, actor=actor, source=source, pr=pr, target=target, store=store,
                             stage="deploy", report=report)
    result["deployed"] = []
    if result["verdict"] == "error":
        return result
    for exp in result["experiments"]:
        if exp["verdict"] not in ("pass", "review"):
            continue
        origin = _pull_request_of(store, exp) or {}
        pr_number = origin.get("pr") if pr is None else pr
        pr_url = origin.get("pr_url") if pr is None else result["pr"]["url"]
        tags = {"ci_commit": result["commit"], **({"ci_pr": str(pr_number)} if pr_number else {})}
        version = register(exp["run_id"], exp["model"], actor=actor, source=source, tags=tags,
                           description=f"CI deploy of {result['commit'][:12]}" + (f" (PR #{pr_number})"
                                                                                  if pr_number else ""))
        context = {"kind": "ci", "summary": origin.get("summary") or exp["summary"], "deploy_summary": exp["summary"],
                   "pr": pr_number, "pr_url": pr_url, "commit": result["commit"], "run_id": exp["run_id"],
                   "report": origin.get("report")}
        request = request_promotion(version["name"], version["version"], exp["target"], actor=actor, source=source,
                                    store=store, context=context)
        result["deployed"].append({"experiment": exp["experiment"], "model": version["name"],
                                   "version": version["version"], "request_id": request["id"],
                                   "status": request["status"], "pr": pr_number, "pr_url": pr_url})
    return result


def check_project(*, data: bool = True, extra: tuple = ()) -> dict[str, Any]:
    """`mlplat check`: every problem of the config tree (see mlplat.ci.check), pre-checked with
    the operations `mlplat train` uses; ``extra``: (file, kind, checker) of front-door groups."""
    from mlplat.ci.check import check_tree
    from mlplat.ops.sweeps import plan_sweep

    def check_config(cfg: dict) -> None:
        # imported on first use (the estimator libraries: ~1.2 s), once the presets' worker is composing
        from mlplat.ops.runs import check_config as run_check

        run_check(cfg)

    return check_tree(check_config=check_config, plan_sweep=plan_sweep, extra=extra, data=data).to_dict()


def ci_comment(body: str, *, provider: str | None = None, pr: int | None = None,
               env: dict[str, str] | None = None, marker: str | None = None, append: bool = False) -> dict[str, Any]:
    """Create or update the one mlplat comment on the pull/merge request (see mlplat.ci.comment)."""
    from mlplat.ci import comment

    return comment.upsert(body, provider=provider, pr=pr, env=dict(os.environ if env is None else env),
                          marker=marker or comment.MARKER, append=append)


def write_ci_workflow(root: str | Path, kind: str, *, force: bool = False) -> Path:
    from mlplat.ci.workflows import write_workflow as write

    return write(Path(root), kind, force=force)  # type: ignore[arg-type]


__all__ = ["ci_pull_request", "ci_report_path", "evaluate_change", "ci_deploy", "check_project", "ci_comment",
           "write_ci_workflow"]
