"""The operations every front door calls (CLI, Hydra app, Slack bot, scheduler, HTTP).

Each operation takes plain arguments plus who asks and from where, and returns plain
data; front doors only format. Rules (what may run, who may approve, what a gate needs)
are enforced here or below, never in a front door, so they hold whichever door is used.
One module per domain; callers write ``from mlplat import ops; ops.leaderboard(...)``.

``OPERATIONS`` below says, statically, which module defines each name. A module is
imported the first time one of its names is used, so `mlplat leaderboard` loads
``ops.listing`` alone (a few light modules) and not the training, registry or serving
modules with their libraries; the ``TYPE_CHECKING`` imports let type checkers, editors
and readers go straight to each definition. A test checks the table against every
module's ``__all__``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# name -> the module under mlplat.ops that defines it (a domain adds its names here)
OPERATIONS: dict[str, str] = {
    # common: who acts, the config, the store
    "os_user": "common", "actor_from_env": "common", "compose_plain": "common", "open_store": "common",
    # access: the one permission model (who may train, sweep, register, promote, approve, ...)
    "Identity": "access", "identity": "access", "check_access": "access", "check_access_env": "access",
    "may": "access", "access_roles": "access", "access_rules": "access", "access_registry_policy": "access",
    "access_group_ids": "access",
    # listing: read runs and sweeps
    "leaderboard": "listing", "leaderboard_chart": "listing", "list_runs": "listing", "iter_runs": "listing",
    "show_run": "listing", "list_sweeps": "listing", "show_sweep": "listing",
    # runs: check and run training
    "check_config": "runs", "check_train_overrides": "runs", "run_experiment": "runs", "open_sweep": "runs",
    "describe_sweep_from_hydra": "runs", "finish_invocation": "runs", "rerun": "runs",
    # registry: versions, promotions, approvals, the audit trail
    "register": "registry", "register_best_of_sweep": "registry", "list_models": "listing",
    "show_model": "registry", "alias_history": "registry", "request_promotion": "registry", "promote": "registry",
    "approve": "registry", "reject": "registry", "list_approvals": "listing", "show_approval": "registry",
    "rollback": "registry", "audit_log": "listing", "audit_verify": "registry",
    "audit_checkpoint": "registry",
    # sweeps: what a multirun will launch, crash cleanup, sweep pictures
    "SweepPlan": "sweeps", "plan_sweep": "sweeps", "check_sweep": "sweeps", "check_ray_address": "sweeps",
    "mark_stale": "sweeps", "link_optuna_study": "sweeps", "sweep_data": "sweeps", "sweep_plot": "sweeps",
    "register_resolvers": "sweeps",
    # store: stats and pruning
    "store_stats": "store", "prune": "store", "remove_orphans": "store",
    # serving: the service, batch prediction, the prediction log
    "serving_app": "serving", "serve": "serving", "predict_batch": "serving", "read_prediction_log": "serving",
    # governance: report, lineage, model card
    "governance_report": "governance", "lineage": "governance", "model_card": "governance",
    # monitoring: drift, performance, latency, history, retraining
    "check_drift": "monitoring", "check_performance": "monitoring", "check_latency": "monitoring",
    "monitor_history": "listing", "retrain": "monitoring",
    # untrusted: the chat allow-list
    "check_untrusted_overrides": "untrusted",
    # models: registered models in this process, and runs recorded from outside (the Python API)
    "load_model": "models", "predict_frame": "models", "log_run": "models",
    # browse: what the web UI shows (runs table, comparisons, one run, sweeps, models, monitoring, audit)
    "runs_table": "browse", "run_columns": "browse", "compare_runs": "browse", "run_details": "browse",
    "sweep_view": "browse", "model_view": "browse", "monitoring_overview": "browse", "monitor_check": "browse",
    "audit_view": "browse", "approval_requests": "browse", "parse_columns": "browse",
    # ci: config checks, a change evaluated against production, PR comments, deploy, CI files
    "check_project": "ci", "evaluate_change": "ci", "ci_deploy": "ci", "ci_comment": "ci", "ci_pull_request": "ci",
    "ci_report_path": "ci", "write_ci_workflow": "ci",
    # data: profile, infer, validate and compare datasets; a run's data profile; the scheduled check
    "profile_dataset": "data", "render_profile": "data", "infer_dataset": "data", "validate_dataset": "data",
    "compare_dataset": "data", "compare_frames": "data", "compare_to_state": "data", "extract_state": "data",
    "run_data_profile": "data", "data_check": "data",
}

if TYPE_CHECKING:  # what the table says, for tools that read imports
    from mlplat.ops.access import (
        Identity,
        access_group_ids,
        access_registry_policy,
        access_roles,
        access_rules,
        check_access,
        check_access_env,
        identity,
        may,
    )
    from mlplat.ops.browse import (
        approval_requests,
        audit_view,
        compare_runs,
        model_view,
        monitor_check,
        monitoring_overview,
        parse_columns,
        run_columns,
        run_details,
        runs_table,
        sweep_view,
    )
    from mlplat.ops.ci import (
        check_project,
        ci_comment,
        ci_deploy,
        ci_pull_request,
        ci_report_path,
        evaluate_change,
        write_ci_workflow,
    )
    from mlplat.ops.common import actor_from_env, compose_plain, open_store, os_user
    from mlplat.ops.data import (
        compare_dataset,
        compare_frames,
        compare_to_state,
        data_check,
        extract_state,
        infer_dataset,
        profile_dataset,
        render_profile,
        run_data_profile,
        validate_dataset,
    )
    from mlplat.ops.governance import governance_report, lineage, model_card
    from mlplat.ops.listing import (
        audit_log,
        iter_runs,
        leaderboard,
        leaderboard_chart,
        list_approvals,
        list_models,
        list_runs,
        list_sweeps,
        monitor_history,
        show_run,
        show_sweep,
    )
    from mlplat.ops.models import load_model, log_run, predict_frame
    from mlplat.ops.monitoring import check_drift, check_latency, check_performance, retrain
    from mlplat.ops.registry import (
        alias_history,
        approve,
        audit_checkpoint,
        audit_verify,
        promote,
        register,
        register_best_of_sweep,
        reject,
        request_promotion,
        rollback,
        show_approval,
        show_model,
    )
    from mlplat.ops.runs import (
        check_config,
        check_train_overrides,
        describe_sweep_from_hydra,
        finish_invocation,
        open_sweep,
        rerun,
        run_experiment,
    )
    from mlplat.ops.serving import predict_batch, read_prediction_log, serve, serving_app
    from mlplat.ops.store import prune, remove_orphans, store_stats
    from mlplat.ops.sweeps import (
        SweepPlan,
        check_ray_address,
        check_sweep,
        link_optuna_study,
        mark_stale,
        plan_sweep,
        register_resolvers,
        sweep_data,
        sweep_plot,
    )
    from mlplat.ops.untrusted import check_untrusted_overrides


def __getattr__(name: str) -> Any:
    """Import the module ``OPERATIONS`` names for ``name`` on first use (then cache the value)."""
    module = OPERATIONS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no operation {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *OPERATIONS})


__all__ = sorted(OPERATIONS)
