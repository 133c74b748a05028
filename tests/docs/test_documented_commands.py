"""Every command README.md and docs/*.md show runs in a test, with its exit code checked.

Two tables cover every documented command (`commands.documented_commands`):
- RUN: run here, for real, in one project made by `mlplat init` (in this order, each one's
  exit code checked), with the placeholders (`<run id>`, `<sweep id>`, `<request id>`) filled
  from what the earlier commands recorded and `[optional parts]` left out;
- ELSEWHERE: commands that need a server, a cluster, a git history or a chat workspace run in
  the named test, whose source must hold every word of the command.
A command added to the docs without an entry, or an entry whose command left the docs,
fails `test_every_documented_command_has_one_entry`.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from .commands import REPO, Documented, documented_commands

# key -> (test that runs it, why not here[, the documented values that test stands in for:
# loopback hosts and free ports for fixed ones, a local stand-in for a remote service])
ELSEWHERE: dict[str, tuple[str, ...]] = {
    "mlplat serve churn [--alias production] [--host 127.0.0.1 --port 8000]":
        ("tests/serving/test_serving_cli.py::test_serve_and_batch_predict_from_the_cli", "a long-running server"),
    "mlplat serve churn --alias production --port 8000":
        ("tests/serving/test_serving_cli.py::test_serve_and_batch_predict_from_the_cli", "a long-running server", "8000"),
    "mlplat serve churn --workers 2 --port 8000":
        ("tests/serving/test_serve_processes.py::test_two_workers_behind_one_port_follow_the_alias_and_lose_no_logged_row",
         "a long-running server", "8000"),
    "mlplat serve churn --workers 2":
        ("tests/serving/test_serve_processes.py::test_two_workers_behind_one_port_follow_the_alias_and_lose_no_logged_row",
         "a long-running server"),
    "mlplat ui": ("tests/ui/test_ui_cli.py::test_mlplat_ui_serves_the_store_read_only", "a long-running server"),
    "mlplat ui --host 0.0.0.0 --port 8080 --auth-header X-Forwarded-User":
        ("tests/ui/test_ui_cli.py::test_mlplat_ui_behind_an_auth_proxy_allows_decisions", "a server behind a proxy", "0.0.0.0 8080 X-Forwarded-User"),
    "mlplat ui --store postgresql+psycopg://mlplat@db:5432/mlplat":
        ("tests/ui/test_ui_cli.py::test_mlplat_ui_serves_the_store_read_only", "a server; the test's store stands in", "postgresql+psycopg://mlplat@db:5432/mlplat"),
    "SLACK_BOT_TOKEN=xoxb-... SLACK_APP_TOKEN=xapp-... mlplat bot --socket":
        ("tests/bot/test_bot_cli.py::test_bot_names_a_malformed_token_in_one_line", "needs Slack"),
    "SLACK_BOT_TOKEN=xoxb-... SLACK_SIGNING_SECRET=... mlplat bot --http --port 3000":
        ("tests/bot/test_bot_scheduler.py", "a long-running server for Slack", "3000"),
    "mlplat chat --as U0123ABC": ("tests/bot/test_bot_cli.py::test_chat_runs_the_same_commands_in_a_terminal",
                                  "reads commands from a terminal", "U0123ABC"),
    "mlplat scheduler start": ("tests/scheduling/test_scheduler.py", "runs until stopped"),
    "mlplat ci run --base origin/main --report ci-report/ci-report.md":
        ("tests/ci/test_ci_flow.py::test_pull_request_to_production + mlplat/ci/templates/github.yml",
         "needs a git history; the test runs the steps of the workflow that holds it", "origin/main"),
    "mlplat ci run experiment=demo --report ci-report.html":
        ("tests/ci/test_ci_bad_input.py::test_html_report_and_a_failed_deploy_registers_nothing",
         "needs a git repository"),
    "mlplat ci run [experiment=NAME[,NAME]] [OVERRIDE ...] [--base REF] [--report PATH] [--format md|html|json]":
        ("tests/ci/test_ci_flow.py::test_pull_request_to_production", "the synopsis of `ci run`"),
    "mlplat ci comment ci-report/ci-report.md":
        ("tests/ci/test_ci_comment.py::test_github_creates_then_updates_one_comment", "needs the GitHub API", "ci-report/ci-report.md"),
    "mlplat ci deploy --base HEAD~1": ("tests/ci/test_ci_flow.py::test_pull_request_to_production",
                                       "needs a git history", "HEAD~1"),
    "mlplat train -m model=logreg,xgboost launcher=ray": ("tests/sweeps/test_sweeps_ray.py", "starts a Ray cluster", "model=logreg,xgboost"),
    "MLPLAT_RAY_ADDRESS=10.0.0.5:6379 mlplat train -m model=logreg,xgboost launcher=ray":
        ("tests/sweeps/test_sweeps_presets.py::test_ray_preset_starts_local_ray_or_joins_the_address_from_the_environment",
         "needs a Ray cluster at that address", "MLPLAT_RAY_ADDRESS= train -m model=logreg,xgboost"),
    "mlplat train -m sweep=xgboost_optuna launcher=slurm hydra.launcher.partition=cpu":
        ("tests/sweeps/test_sweeps_presets.py::test_slurm_preset_composes_with_its_resources", "needs SLURM", "train -m sweep=xgboost_optuna"),
    "mlplat train -cd ../more_conf dataset=customers2":
        ("tests/engine/test_hydra_flags.py::test_config_dir_adds_a_layer_in_front", "needs a second conf folder"),
    "mlplat train -cn knn_config": ("tests/engine/test_hydra_flags.py::test_config_name_picks_another_root_config",
                                    "needs another root config"),
    "mlplat monitor latency churn --since 1h":
        ("tests/monitoring/test_monitor_live.py::test_drift_latency_and_performance_from_the_live_prediction_log",
         "needs a served model's prediction log"),
    "mlplat monitor performance churn --labels labels.csv":
        ("tests/monitoring/test_monitor_live.py::test_drift_latency_and_performance_from_the_live_prediction_log",
         "joins labels on the prediction log's request ids"),
    "mlplat train -m dataset=churn evaluation=fast model=logreg model.classifier_params.C=1.0,0.01 tracking=team":
        ("tests/tracking/test_team_object_store_cli.py::test_train_register_predict_prune_audit_on_s3",
         "needs a team store (PostgreSQL in CI) and an S3 endpoint (moto's server on 127.0.0.1)"),
    "mlplat predict churn@staging --input new.csv --output scored.csv":
        ("tests/tracking/test_team_object_store_cli.py::test_train_register_predict_prune_audit_on_s3",
         "reads the model from the S3 stand-in"),
    "mlplat scheduler run governance_weekly":
        ("tests/scheduling/test_scheduler.py::test_scheduler_run_governance_weekly_writes_the_report_and_notifies",
         "notifies a chat channel"),
}

# Cheap settings appended to the runs (the documented command is still what runs; an Optuna
# search makes 2 trials, and every fit is cross-validated on 3 folds, conf/evaluation/fast.yaml).
FEWER_TRIALS = "hydra.sweeper.n_trials=2"
FAST_EVALUATION = "evaluation=fast"

# The order the RUN commands take (each key exactly as documented); the expected exit code is 0.
# In a project `mlplat init` made ("Your own project"):
IN_NEW_PROJECT: list[str] = [
    "mlplat init my-project",
    "mlplat train",
    "mlplat leaderboard",
    "mlplat data infer data/example.csv --target churned --name customers",
    "mlplat train dataset=customers model=lightgbm",
]

# In a checkout of this repository (its conf/ and data/), as README's other sections are:
IN_REPOSITORY: list[str] = [
    "mlplat version",
    "mlplat train --help",
    "mlplat train --info searchpath",
    "mlplat train --cfg job dataset=wage",
    "mlplat train dataset=wine model=xgboost",
    "mlplat train model=random_forest model.params.n_estimators=300 features=select_kbest",
    "mlplat train experiment=churn_baseline",
    "mlplat train dataset=churn model=logreg",
    "mlplat train -m model=logreg,random_forest,hist_gb,xgboost",
    "mlplat train -m model=logreg,knn,random_forest dataset=breast_cancer",
    "mlplat train -m sweep=grid_rf model.params.max_depth=4",
    "mlplat train -m sweep=grid_rf",
    "mlplat train -m sweep=xgboost_optuna",
    "mlplat train -m sweep=xgboost_optuna launcher=joblib",
    "mlplat train -m sweep=xgboost_optuna hydra/launcher=joblib hydra.launcher.n_jobs=2",
    "mlplat train -m sweep=xgboost_optuna launcher=joblib hydra.launcher.n_jobs=4",
    "mlplat train -m sweep=xgboost_optuna model.params.max_depth=int(interval(3, 5))",
    "mlplat train -m sweep=random_forest_optuna hydra.sweeper.n_trials=40",
    "mlplat train -m sweep=hist_gb_optuna dataset=churn",
    "mlplat train -m sweep=logreg_optuna",
    "mlplat leaderboard --metric roc_auc --top 10",
    "mlplat leaderboard --metric rmse --dataset wage --model xgboost --since 30d",
    "mlplat runs list --last 20",
    "mlplat runs show <run id or unique prefix>",
    "mlplat runs rerun <run id>",
    "mlplat sweeps list",
    "mlplat sweeps show <sweep id>",
    "mlplat sweeps show <sweep id> [--format json]",
    "mlplat sweeps show <sweep id> --format json",
    "mlplat sweeps show <sweep id> --plot sweep.png",
    "mlplat leaderboard --sweep <sweep id> --format png --output board.png",
    "mlplat leaderboard --sweep <sweep id> --format png",
    "mlplat leaderboard --sweep <sweep id> --format html -o board.html",
    "mlplat runs cleanup",
    "mlplat data profile dataset=churn",
    "mlplat data profile dataset=churn --output profile.html",
    "mlplat data profile --input extract.parquet --target churned",
    "mlplat data infer customers.csv --target churned --name customers",
    "mlplat data infer --sql SELECT * FROM customers --url sqlite:///data/churn.sqlite --target churned --name customers",
    "mlplat data validate dataset=churn --current new_extract.csv",
    "mlplat data compare dataset=churn --current new_extract.csv",
    "mlplat check",
    "mlplat check --no-data --format json",
    "mlplat ci workflow github",
    # the registry walk-through: three versions of churn; v1's request rejected, v3 approved,
    # v2 approved over it, then rolled back to v3
    "mlplat models register <run id> --name churn [--tag team=growth]",
    "mlplat models register <run id> --name churn --tag team=growth",
    "mlplat models list",
    "mlplat models show churn",
    "mlplat models show churn:1",
    "mlplat models promote churn 1 --to production",
    "mlplat approvals list --pending",
    "mlplat reject <request id> --reason ..",
    "mlplat models promote churn 3 --to production",
    "mlplat approve <request id> [--comment ..]",
    "mlplat models show churn:3",
    "mlplat models show churn@production [--at 2026-11-26T10:00:00]",
    "mlplat models show churn@production --at 2026-11-26T10:00:00",
    "mlplat data profile --model churn@production",
    "mlplat predict churn --input new.csv --output scored.parquet",
    "mlplat monitor drift churn --current new_batch.parquet",
    "mlplat monitor drift churn --current drift.parquet",
    "mlplat monitor drift churn --current new.csv --format html --output drift.html",
    "mlplat monitor performance churn --labels labels.csv [--id-column customer_id --current scored.csv]",
    "mlplat monitor performance churn --labels labels.csv --current scored.csv --id-column customer_id",
    "mlplat monitor history churn",
    "mlplat monitor history churn [--kind drift] [--format json]",
    "mlplat monitor retrain churn",
    "mlplat lineage churn[:3]",
    "mlplat lineage churn[:3|@production] [--format table|json]",
    "mlplat models card churn:3 [--format md|html]",
    "mlplat models card churn:3 [--format md|html|json] [--output FILE]",
    "mlplat report governance [--since 7d] [--format md|html|json] [--output gov.html]",
    "mlplat report governance [--since 7d] [--format md|html|json] [--output FILE]",
    "mlplat scheduler list",
    "mlplat approve <request id> --comment looks good",
    "mlplat models rollback churn",
    "mlplat reject <request id> --reason needs a canary",
    "mlplat audit log [--object churn]",
    "mlplat audit log --object churn",
    "mlplat audit checkpoint",
    "mlplat audit verify",
    "mlplat store stats",
    "mlplat store prune --older-than 180d --keep-registered --dry-run",
    "mlplat store prune --older-than 180d --keep-registered",
]

RUN = IN_NEW_PROJECT + IN_REPOSITORY

# optional parts run too (first alternative) where the short form needs what they name
KEEP_OPTIONAL = {"mlplat monitor performance churn --labels labels.csv [--id-column customer_id --current scored.csv]"}

APPROVER = "alice"  # the second person four-eyes needs; added to the project's policy below


def _doc_keys() -> dict[str, list[Documented]]:
    keys: dict[str, list[Documented]] = {}
    for cmd in documented_commands():
        keys.setdefault(cmd.key, []).append(cmd)
    return keys


def _words(key: str) -> list[str]:
    """The words of a command another test must hold: its fixed arguments, no placeholders."""
    text = re.sub(r"\[[^\]]*\]", " ", re.sub(r"<[^>]*>", " ", key))
    words = [w for w in text.split() if w not in ("mlplat", "...")]
    return [w.split("=", 1)[0] + "=" if w[:1].isupper() and "=" in w else w for w in words]


def _test_source(ref: str) -> str:
    if " + " in ref:  # a test and the file whose commands it runs
        return "\n".join(_test_source(part) for part in ref.split(" + "))
    path, _, name = ref.partition("::")
    source = (REPO / path).read_text()
    if not name:
        return source
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef) and node.name == name:  # with its decorators
            first = min([d.lineno for d in node.decorator_list] + [node.lineno])
            return "\n".join(source.splitlines()[first - 1:node.end_lineno])
    raise AssertionError(f"{ref}: no such test")


def test_every_documented_command_has_one_entry():
    docs = _doc_keys()
    missing = [str(docs[k][0]) for k in docs if k not in RUN and k not in ELSEWHERE]
    assert not missing, "documented commands no test runs (add them to RUN or ELSEWHERE):\n" + "\n".join(missing)
    stale = [k for k in [*RUN, *ELSEWHERE] if k not in docs]
    assert not stale, f"entries for commands the docs no longer show: {stale}"
    assert not set(RUN) & set(ELSEWHERE) and len(RUN) == len(set(RUN))


@pytest.mark.parametrize("key", sorted(ELSEWHERE))
def test_commands_run_elsewhere_are_in_the_named_test(key: str):
    ref, why, *stand_ins = ELSEWHERE[key]
    source = _test_source(ref)
    replaced = set(" ".join(stand_ins).split())
    absent = [w for w in _words(key) if w.strip("'\"") not in source and w not in replaced]
    assert not absent, f"{ref} ({why}) does not hold {absent} of `{key}`"


def _argv(key: str, fill: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    """The command to run: optional `[parts]` left out (or kept, first alternative, for the keys
    in KEEP_OPTIONAL), `churn[:3]` as `churn`, placeholders filled."""
    cmd = next(c for c in documented_commands() if c.key == key)
    out: list[str] = []
    depth = 0
    tokens: list[str] = []
    for word in cmd.argv:  # a placeholder is one argument: `<run id or unique prefix>`
        if tokens and tokens[-1].count("<") > tokens[-1].count(">"):
            tokens[-1] += " " + word
        else:
            tokens.append(word)
    for token in tokens:
        token = re.sub(r"\[:[^\]]*\]", "", token)
        inside = depth > 0 or token.startswith("[")
        depth += token.count("[") - token.count("]")
        if inside and key not in KEEP_OPTIONAL:
            continue
        token = token.strip("[]").split("|")[0] if inside else token
        for placeholder, value in fill.items():
            token = token.replace(placeholder, value)
        out.append(token)
    if out[:2] == ["train", "-m"] and any("optuna" in a for a in out):
        out = [a for a in out if not a.startswith("hydra.sweeper.n_trials=")] + [FEWER_TRIALS]
    if out[:1] == ["train"] and not {"--help", "--info", "--cfg"} & set(out):
        out.append(FAST_EVALUATION)
    return dict(cmd.env), out


def _prepare_files(root: Path) -> None:
    """The files the documented commands name, made from the bundled data."""
    churn = pd.read_csv(REPO / "data" / "churn.csv")
    new = churn.sample(400, random_state=3)
    new.to_csv(root / "new_extract.csv", index=False)
    new.to_csv(root / "customers.csv", index=False)
    new.to_parquet(root / "extract.parquet", index=False)
    batch = new.drop(columns=["churned"])
    batch.to_csv(root / "new.csv", index=False)
    batch.to_parquet(root / "new_batch.parquet", index=False)
    drifted = batch.copy()
    drifted["monthly_charges"] = drifted["monthly_charges"] * 1.8
    drifted.to_parquet(root / "drift.parquet", index=False)
    new[["customer_id", "churned"]].to_csv(root / "labels.csv", index=False)


def _run_all(root: Path, keys: list[str]) -> list[str]:
    fill: dict[str, str] = {}
    failures: list[str] = []
    for key in keys:
        _before(key, root, fill)
        env, args = _argv(key, fill)
        if key.startswith(("mlplat approve", "mlplat models rollback")):  # ml-lead / oncall in conf/access
            env["MLPLAT_ACTOR"] = APPROVER
        started = time.perf_counter()
        proc = _run(root, args, **env)
        print(f"{time.perf_counter() - started:6.1f}s rc={proc.returncode} {key}", flush=True)  # shown with -s
        if proc.returncode != 0:
            failures.append(f"{key}: exit {proc.returncode}: {proc.stderr.strip()[-400:]}")
    return failures


def test_documented_commands_run_in_a_new_project(tmp_path: Path):
    made = _run(tmp_path, ["init", "my-project"])
    assert made.returncode == 0, made.stderr
    failures = _run_all(tmp_path / "my-project", IN_NEW_PROJECT[1:])
    assert not failures, "documented commands that failed:\n" + "\n".join(failures)


@pytest.mark.timeout(1800)
def test_documented_commands_run_in_the_repository(tmp_path: Path):
    root = tmp_path / "checkout"
    shutil.copytree(REPO / "conf", root / "conf", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO / "data", root / "data")
    policy = root / "conf" / "registry" / "default.yaml"
    text = policy.read_text()
    # no champion gate in this copy, so the walk-through can promote any version in any order
    # (tests/registry test the gates); approvals still need someone other than the requester
    text, n = re.subn(r"(\n      beat_champion:\n(?:        .*\n)+)", "\n      beat_champion: null\n", text)
    approvers = (root / "conf" / "access" / "default.yaml").read_text()  # the roles table
    assert n == 1 and APPROVER in approvers, "the shipped policy changed: update this walk-through"
    policy.write_text(text)
    _prepare_files(root)
    failures = _run_all(root, IN_REPOSITORY)
    assert not failures, "documented commands that failed:\n" + "\n".join(failures)


def _run(cwd: Path, args: list[str], **env: str) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("MLPLAT_", "HYDRA_"))}
    full_env.update(env)
    return subprocess.run([sys.executable, "-m", "mlplat", *args], cwd=cwd, env=full_env, capture_output=True,
                          text=True, timeout=300)


def _json(root: Path, *args: str):
    proc = _run(root, [*args, "--format", "json"])
    assert proc.returncode == 0, f"mlplat {' '.join(args)}: {proc.stderr}"
    return json.loads(proc.stdout)


def _before(key: str, root: Path, fill: dict[str, str]) -> None:
    """What a command needs that earlier ones left: placeholders, a fresh file name."""
    if "<run id" in key:
        runs = _json(root, "runs", "list", "--last", "100")
        fill["<run id or unique prefix>"] = runs[0]["id"][:8]
        if key.startswith("mlplat models register"):
            churn = [r["id"] for r in runs if r["dataset"] == "churn" and r["status"] == "done"]
            fill["<run id>"] = churn[len(_registered(root)) % len(churn)]
        else:
            fill["<run id>"] = runs[0]["id"]
    if "--at 2026-11-26T10:00:00" in key:  # the example's moment stands for "a time production served"
        # the next whole second, once it has passed: later than the promotion just made (the
        # time is written to the second, and a promotion in the same second came after it)
        moment = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=1)
        time.sleep(max(0.0, (moment - datetime.now(UTC)).total_seconds()))
        fill["2026-11-26T10:00:00"] = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if "<sweep id>" in key and "<sweep id>" not in fill:
        fill["<sweep id>"] = _json(root, "sweeps", "list")[0]["id"]
    if key == "mlplat models promote churn 1 --to production":
        # the walk-through promotes version 3: register a third version first
        while len(_registered(root)) < 3:
            _before("mlplat models register <run id> --name churn", root, fill)
            assert _run(root, ["models", "register", fill["<run id>"], "--name", "churn"]).returncode == 0
    if key.startswith(("mlplat approve", "mlplat reject")):
        if key.endswith(("looks good", "needs a canary")):  # a second and third request
            version = "2" if key.endswith("looks good") else "1"
            proc = _run(root, ["models", "promote", "churn", version, "--to", "production"])
            assert proc.returncode == 0, proc.stderr
        pending = _json(root, "approvals", "list", "--pending")
        assert pending, f"{key}: no request is pending"
        fill["<request id>"] = pending[0]["id"]
    if key.startswith("mlplat data infer") and key != "mlplat data infer data/example.csv --target churned --name customers":
        (root / "conf" / "dataset" / "customers.yaml").unlink(missing_ok=True)  # each example starts fresh
    if "scored.csv" in key and not (root / "scored.csv").exists():
        pd.read_parquet(root / "scored.parquet").to_csv(root / "scored.csv", index=False)


def _registered(root: Path) -> list:
    proc = _run(root, ["models", "show", "churn", "--format", "json"])
    return json.loads(proc.stdout).get("versions", []) if proc.returncode == 0 else []
