"""Every mistake a user can make ends in one clear line, a non-zero exit and an untouched store."""

from __future__ import annotations

import json
import sqlite3

import pytest


def _snapshot(project) -> list:
    with sqlite3.connect(project.db) as con:
        return [tuple(r) for r in con.execute("SELECT id, status, primary_value, ended_at FROM runs "
                                              "WHERE status='done' ORDER BY id")]


@pytest.fixture
def seeded(project):
    project.train("evaluation=fast")
    return project


@pytest.fixture(scope="module")
def shared_seeded(tmp_path_factory):
    """One seeded store for the checks that must not change it (each test verifies that)."""
    from tests.conftest import Project

    project = Project(tmp_path_factory.mktemp("seeded"))
    project.train("evaluation=fast")
    return project


def _assert_one_clear_line(proc, *needles: str) -> str:
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout
    errors = [line for line in (proc.stderr + proc.stdout).splitlines() if "error" in line.lower()]
    assert errors, proc.stderr
    line = errors[0]
    for needle in needles:
        assert needle in line, (needle, line)
    return line


PRE_CHECKED = [
    (["model=xgbost"], ["unknown option 'xgbost'", "model", "xgboost", "random_forest"]),
    (["model.params.n_estimatorz=3", "model=random_forest"], ["n_estimatorz"]),
    (["model=random_forest", "model.params.n_estimators=many"], ["n_estimators", "many"]),
    (["evaluation.cv.folds=x"], ["evaluation.cv.folds"]),
    (["dataset.task=regresion"], ["dataset.task", "classification, regression"]),
    (["nonsense_key=1"], ["nonsense_key"]),
    (["dataset=churn", "dataset.path=data/nope.csv"], ["nope.csv", "not found", "dataset.path"]),
    (["model.classifier=os.system"], ["os.system", "allow-list"]),
    (["model.classifier=subprocess.Popen"], ["allow-list"]),
    (["tracking.url=postgresql+psycopg://nobody@127.0.0.1:1/nodb"], ["cannot reach the store", "tracking.url"]),
    (["evaluation.primary=rmse"], ["rmse", "regression", "classification"]),
    # an override that reaches no estimator parameter (logreg's classifier_params.C shadows params.C)
    (["+model.params.C=-1"], ["model.params.C", "model.classifier_params.C", "change nothing"]),
    # XGBoost's own types, before any job (not a failed run)
    (["model=xgboost", "model.params.max_depth=abc"], ["max_depth", "abc", "int"]),
]


@pytest.mark.parametrize("overrides,needles", PRE_CHECKED, ids=[" ".join(o) for o, _ in PRE_CHECKED])
def test_config_mistakes_fail_before_any_work(shared_seeded, overrides, needles):
    before = _snapshot(shared_seeded)
    proc = shared_seeded.train(*overrides, check=False)
    _assert_one_clear_line(proc, *needles)
    assert _snapshot(shared_seeded) == before
    runs = shared_seeded.json("runs", "list")
    assert len(runs) == 1  # no job started


def _csv_dataset(project, name: str, text: str, *extra: str) -> list[str]:
    path = project.root / f"{name}.csv"
    path.write_text(text)
    # synthetic declares no column schema; switch its source to the CSV written here
    return ["dataset=synthetic", "dataset.source=csv", f"dataset.path={path}", "dataset.target=churned",
            "dataset.min_rows=1", *extra]


def test_missing_target_column(seeded):
    proc = seeded.train("dataset.target=label", check=False)
    _assert_one_clear_line(proc, "target column 'label' not found", "dataset.target")


def test_non_numeric_target_for_regression(seeded):
    proc = seeded.train("dataset=churn", "dataset.task=regression", "dataset.target=contract",
                        "dataset.columns={}", check=False)
    _assert_one_clear_line(proc, "'contract'", "not numeric", "regression")


def test_single_class_target(seeded):
    rows = "a,b,churned\n" + "".join(f"{i},{i * 2},1\n" for i in range(30))
    proc = seeded.train(*_csv_dataset(seeded, "one_class", rows), check=False)
    _assert_one_clear_line(proc, "single class")


def test_empty_dataset(seeded):
    proc = seeded.train(*_csv_dataset(seeded, "empty", "a,b,churned\n"), check=False)
    _assert_one_clear_line(proc, "empty", "0 rows")


def test_schema_violation_names_column_and_row_count(seeded):
    proc = seeded.train("dataset=churn", "dataset.columns.tenure_months.max=10", check=False)
    line = _assert_one_clear_line(proc, "tenure_months", "above max 10")
    count = int(line.split("has ")[1].split(" rows above")[0])
    import pandas as pd

    from tests.conftest import REPO

    assert count == int((pd.read_csv(REPO / "data" / "churn.csv")["tenure_months"] > 10).sum())


def test_failed_runs_keep_existing_runs_intact(seeded):
    before = _snapshot(seeded)
    seeded.train("dataset.target=label", check=False)
    assert _snapshot(seeded) == before
    statuses = sorted(r["status"] for r in seeded.json("runs", "list"))
    assert statuses == ["done", "failed"]


def test_verbose_shows_the_traceback(seeded):
    proc = seeded.train("dataset.target=label", check=False, HYDRA_FULL_ERROR="1")
    assert proc.returncode != 0 and "Traceback" in proc.stderr


def test_read_commands_report_bad_input_in_one_line(seeded):
    for args, needle in [(["leaderboard", "--metric", "auc"], "unknown metric 'auc'"),
                         (["runs", "show", "zzzzzzzz"], "not found"),
                         (["runs", "list", "--since", "7days"], "malformed duration")]:
        proc = seeded.mlplat(*args)
        assert proc.returncode != 0 and needle in proc.stderr and "Traceback" not in proc.stderr
    assert json.loads(seeded.mlplat("runs", "list", "--page", "99", "--format", "json").stdout) == []
