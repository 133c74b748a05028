"""`mlplat check` catches a broken config of each kind, one line per problem, and passes a sound tree."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _tree(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    shutil.copytree(REPO / "conf", root / "conf")
    shutil.copytree(REPO / "data", root / "data")
    return root


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, (path, old)
    path.write_text(text.replace(old, new, 1))


def _check(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mlplat.cli", "check", *args], cwd=root, capture_output=True,
                          text=True, timeout=300, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO),
                                                       "OMP_WAIT_POLICY": "PASSIVE", "HOME": str(root)})


def test_every_kind_of_broken_config_is_one_line(tmp_path):
    root = _tree(tmp_path)
    conf = root / "conf"
    # a group option: an unknown hyper-parameter, a wrong type
    (conf / "model" / "broken_rf.yaml").write_text("name: broken_rf\nclassifier: sklearn.ensemble.RandomForestClassifier\n"
                                                   "params: {n_estimatorz: 5}\n")
    (conf / "evaluation" / "bad_folds.yaml").write_text("cv: {folds: many}\ntest_size: 0.2\nprimary: roc_auc\n")
    # an experiment and a sweep preset that do not compose
    (conf / "experiment" / "broken.yaml").write_text("# @package _global_\ndefaults:\n  - override /model: nope\n")
    (conf / "sweep" / "broken.yaml").write_text("# @package _global_\ndefaults:\n  - override /model: gone\n"
                                                "hydra:\n  sweeper:\n    params:\n      seed: 1,2\n")
    # data: the schema no longer matches the data
    _edit(conf / "dataset" / "churn.yaml", "tenure_months: {dtype: integer, min: 0, max: 120}",
          "tenure_months: {dtype: integer, min: 0, max: 5}")
    # registry: a role that does not exist, a metric mlplat does not know
    _edit(conf / "registry" / "default.yaml", "    approver_roles: [ml-lead]\n    expiry_hours: 72\n    gates:\n"
          "      run_completed: true\n      validation_passed: true\n      # metric",
          "    approver_roles: [ml-leads]\n    expiry_hours: 72\n    gates:\n"
          "      run_completed: true\n      validation_passed: true\n      # metric")
    _edit(conf / "registry" / "default.yaml", "      thresholds: {}\n      stage: holdout", "      thresholds: {auc: 0.7}\n"
          "      stage: holdout")
    # schedule: a bad cron expression, an unknown job type
    _edit(conf / "schedule" / "default.yaml", 'trigger: {cron: "0 * * * *"}', 'trigger: {cron: "61 * * * *"}')
    _edit(conf / "schedule" / "default.yaml", "type: stale_model_check", "type: stale_model_chek")
    # bot allow-list: a group and a key that do not exist
    _edit(conf / "bot" / "default.yaml", "groups: [experiment, sweep, dataset, features, model, evaluation]",
          "groups: [experiment, sweep, dataset, features, modell, evaluation]")
    _edit(conf / "bot" / "default.yaml", "    model.params.n_neighbors: [1, 200]", "    model.params.n_neighbours: [1, 200]")
    # _target_: an estimator outside the allow-list, one that does not import, a plugin module that is missing
    (conf / "model" / "shell.yaml").write_text("name: shell\nclassifier: os.system\n")
    (conf / "model" / "alien.yaml").write_text("name: alien\nclassifier: sklearn.nope.Thing\n")
    (conf / "launcher" / "broken.yaml").write_text("# @package _global_\nhydra:\n  launcher:\n"
                                                   "    _target_: nopkg.launcher.Launcher\n")

    p = _check(root)
    assert p.returncode == 1, p.stdout + p.stderr
    lines = p.stdout.splitlines()
    expected = [
        ("conf/model/broken_rf.yaml:", "n_estimatorz"),
        ("conf/evaluation/bad_folds.yaml: cv.folds:", "many"),
        ("conf/experiment/broken.yaml:", "'nope'"),
        ("conf/sweep/broken.yaml:", "'gone'"),
        ("conf/dataset/churn.yaml: columns:", "tenure_months"),
        ("conf/registry/default.yaml: targets.production.approver_roles:", "'ml-leads'"),
        ("conf/registry/default.yaml: targets.production.gates.thresholds.auc:", "unknown metric"),
        ("conf/schedule/default.yaml: jobs.drift_production.trigger:", "61 * * * *"),
        ("conf/schedule/default.yaml: jobs.stale_models.type:", "stale_model_chek"),
        ("conf/bot/default.yaml: allow.groups:", "'modell'"),
        ("conf/bot/default.yaml: allow.params.model.params.n_neighbours:", "exists in no config"),
        ("conf/model/shell.yaml:", "allow-list"),
        ("conf/model/alien.yaml: classifier:", "does not import"),
        ("conf/launcher/broken.yaml: _target_:", "nopkg.launcher"),
    ]
    for prefix, words in expected:
        assert any(line.startswith(prefix) and words in line for line in lines), (prefix, words, lines)
    assert len(lines) == len(expected), lines  # one line each, nothing else flagged
    assert "Traceback" not in p.stderr and "14 problem(s)" in p.stderr

    js = _check(root, "--no-data", "--format", "json")
    assert js.returncode == 1
    result = json.loads(js.stdout)
    kinds = {prob["kind"] for prob in result["problems"]}
    assert kinds == {"compose", "experiment", "sweep", "registry", "schedule", "bot", "target"}  # no data: skipped
    assert len(result["problems"]) == len(expected) - 1
    # sweeps are counted, not expanded (the sound tree passing is the workflow test's `mlplat check` step)
    assert result["sweeps"] == {"grid_rf": 9, "hist_gb_optuna": 20, "logreg_optuna": 20, "random_forest_optuna": 20,
                                "xgboost_optuna": 20} and result["checked"]["experiments"] == 4


def test_options_of_an_extra_not_installed_are_a_note_not_a_problem(tmp_path):
    """`pip install mlplat` without [lightgbm]/[catboost]: the shipped model options are noted, and check passes."""
    root = _tree(tmp_path)
    hide = ("import sys; sys.modules['lightgbm'] = None; sys.modules['catboost'] = None; "  # as if not installed
            "from mlplat.cli import main; sys.argv = ['mlplat', 'check', '--no-data']; main()")
    p = subprocess.run([sys.executable, "-c", hide], cwd=root, capture_output=True, text=True, timeout=300,
                       env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO), "OMP_WAIT_POLICY": "PASSIVE",
                            "HOME": str(root)})
    assert p.returncode == 0 and p.stdout == "", (p.stdout, p.stderr)
    assert "conf/model/lightgbm.yaml need(s) the 'lightgbm' extra" in p.stderr
    assert "pip install 'mlplat[catboost]'" in p.stderr and p.stderr.rstrip().endswith("no problems")
    # a class that does not import and is no extra's stays a problem
    _edit(root / "conf" / "model" / "lightgbm.yaml", "lightgbm.LGBMClassifier", "sklearn.linear_model.NoSuchModel")
    p = subprocess.run([sys.executable, "-c", hide], cwd=root, capture_output=True, text=True, timeout=300,
                       env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO), "OMP_WAIT_POLICY": "PASSIVE",
                            "HOME": str(root)})
    assert p.returncode == 1 and "'sklearn.linear_model.NoSuchModel' does not import" in p.stdout, (p.stdout, p.stderr)


def test_the_forked_presets_worker_reports_what_the_serial_pass_does(tmp_path, monkeypatch):
    """The presets compose in a forked worker (mlplat.ci.check._Worker); one core or no fork: here.
    Both give the same report, problems in the same order."""
    from mlplat import ops
    from mlplat.ci import check

    root = _tree(tmp_path)
    (root / "conf" / "experiment" / "broken.yaml").write_text("# @package _global_\ndefaults:\n"
                                                             "  - override /model: nope\n")
    monkeypatch.chdir(root)
    forked = ops.check_project(data=False)
    started = []
    real = check._Worker.__init__

    def spy(self):
        real(self)
        started.append(self.pool is not None)
    monkeypatch.setattr(check._Worker, "__init__", spy)
    ops.check_project(data=False)
    assert started == [True]  # the first report did come from the worker
    monkeypatch.setattr(os, "cpu_count", lambda: 1)
    serial = ops.check_project(data=False)
    assert started == [True, False]
    assert forked == serial and any("'nope'" in p["problem"] for p in serial["problems"])


def test_shipped_example_datasets_without_their_data_are_a_note_in_a_users_project(tmp_path):
    """`mlplat init` then `mlplat check`: the library's example datasets read files only the mlplat
    repository has; they are named in a note. A dataset of the project's own with a missing file
    is still a problem."""
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO), "OMP_WAIT_POLICY": "PASSIVE", "HOME": str(tmp_path)}
    subprocess.run([sys.executable, "-m", "mlplat.cli", "init", "proj"], cwd=tmp_path, env=env, check=True,
                   capture_output=True, timeout=300)
    root = tmp_path / "proj"
    p = _check(root)
    assert p.returncode == 0 and p.stdout == "", (p.stdout, p.stderr)
    assert "shipped example dataset(s) whose data files this project does not have" in p.stderr
    assert "mlplat_conf/dataset/churn.yaml" in p.stderr or "conf/dataset/churn.yaml" in p.stderr
    (root / "conf" / "dataset" / "mine.yaml").write_text(
        "name: mine\nsource: csv\npath: data/mine.csv\ntarget: y\ntask: classification\n")
    js = _check(root, "--format", "json")
    result = json.loads(js.stdout)
    assert js.returncode == 1 and {p["file"] for p in result["problems"]} == {"conf/dataset/mine.yaml"}, result
    assert any("churn" in f for f in result["needs_data"]) and not any("mine" in f for f in result["needs_data"])
