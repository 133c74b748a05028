"""End-to-end tests: a tiny Hydra app swept with ``hydra/sweeper=mlplat_optuna`` in a subprocess.

A subprocess is the only faithful setup: Hydra's plugin discovery, config composition, the
launcher and the one-line error printing all happen as they do for a user.
"""

from __future__ import annotations

import importlib
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import optuna
import pytest
import yaml
from optuna.trial import TrialState

REPO = Path(__file__).resolve().parents[2]
APP = Path(__file__).resolve().parent / "app" / "my_app.py"
SWEEPER = "hydra/sweeper=mlplat_optuna"


class Sweep:
    """One run of the test app in ``tmp_path``, with helpers to read what it left behind."""

    def __init__(self, tmp_path: Path, name: str = "sweep") -> None:
        self.tmp = tmp_path
        self.sweep_dir = tmp_path / "multirun" / name
        self.counter = tmp_path / "calls.txt"
        self.record = tmp_path / "record.jsonl"
        self.proc: subprocess.CompletedProcess[str] | None = None

    def run(self, *overrides: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        full_env = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
        full_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
        full_env.update(env or {})
        cmd = [
            sys.executable,
            str(APP),
            "-m",
            f"hydra.sweep.dir={self.sweep_dir}",
            f"behavior.counter_file={self.counter}",
            f"behavior.record_file={self.record}",
            *overrides,
        ]
        self.proc = subprocess.run(
            cmd, cwd=self.tmp, env=full_env, capture_output=True, text=True, timeout=120
        )
        return self.proc

    def ok(self, *overrides: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        proc = self.run(*overrides, env=env)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return proc

    @property
    def calls(self) -> list[dict[str, Any]]:
        if not self.record.exists():
            return []
        return [json.loads(line) for line in self.record.read_text().splitlines()]

    @property
    def results(self) -> dict[str, Any]:
        return yaml.safe_load((self.sweep_dir / "optimization_results.yaml").read_text())

    def error_lines(self) -> list[str]:
        assert self.proc is not None
        footer = "Set the environment variable HYDRA_FULL_ERROR=1 for a complete stack trace."
        return [line for line in self.proc.stderr.splitlines() if line.strip() and line != footer]


def load_study(url: str, results: dict[str, Any]) -> optuna.Study:
    return optuna.load_study(study_name=results["study_name"], storage=url)


def test_finds_the_optimum_of_a_quadratic(tmp_path: Path) -> None:
    """The preset form (+sweep=quadratic with override /hydra/sweeper) and TPE converge."""
    sweep = Sweep(tmp_path)
    sweep.ok("+sweep=quadratic", "hydra.sweeper.n_trials=25")
    results = sweep.results
    assert results["n_complete"] == 25 and len(sweep.calls) == 25
    assert results["best_value"] < 0.25  # optimum 0.03 at x=2, y=-1 (+0.01*depth); seeded TPE: 0.07
    assert abs(results["best_params"]["x"] - 2) < 0.5
    assert abs(results["best_params"]["y"] + 1) < 0.5
    assert results["storage"] == "in-memory"


def test_log_int_and_choice_params_stay_in_bounds(tmp_path: Path) -> None:
    db = tmp_path / "opt.db"
    url = f"sqlite:///{db}"
    sweep = Sweep(tmp_path)
    sweep.ok(
        SWEEPER,
        "hydra/sweeper/sampler=random",
        "hydra.sweeper.seed=3",
        "hydra.sweeper.n_trials=6",
        f"hydra.sweeper.storage={url}",
        "lr=tag(log, interval(1e-4, 1))",
        "depth=int(interval(2, 10))",
        "kind=choice(a, b, 'c d')",
        "+hydra.sweeper.params.x={type: float, low: -1, high: 1, step: 0.5}",
    )
    calls = sweep.calls
    assert len(calls) == 6
    for call in calls:
        assert 1e-4 <= call["lr"] <= 1
        assert isinstance(call["depth"], int) and 2 <= call["depth"] <= 10
        assert call["kind"] in {"a", "b", "c d"}
        assert call["x"] in {-1.0, -0.5, 0.0, 0.5, 1.0}
    # log-uniform over 4 decades: 3 in 4 draws land below 0.1
    assert sum(call["lr"] < 0.1 for call in calls) >= 3
    study = load_study(url, sweep.results)
    trial = study.trials[0]
    assert trial.distributions["lr"].log is True
    assert isinstance(trial.distributions["depth"], optuna.distributions.IntDistribution)
    # what the job received is what Optuna recorded
    by_call = sorted(calls, key=lambda c: c["call"])
    assert [t.params["depth"] for t in study.trials] == [c["depth"] for c in by_call]
    assert [t.params["kind"] for t in study.trials] == [c["kind"] for c in by_call]


def test_failed_trials_are_recorded_and_the_search_goes_on(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'opt.db'}"
    sweep = Sweep(tmp_path)
    sweep.ok(
        SWEEPER,
        "hydra.sweeper.n_trials=3",
        "hydra.sweeper.max_failures=3",
        f"hydra.sweeper.storage={url}",
        "x=interval(-5, 5)",
        "behavior.raise_on=[2]",
        "behavior.nan_on=[3]",
        "behavior.none_on=[4]",
    )
    assert len(sweep.calls) == 6  # 3 complete + 3 failed
    study = load_study(url, sweep.results)
    states = [t.state for t in study.trials]
    assert states.count(TrialState.COMPLETE) == 3
    assert [i for i, s in enumerate(states) if s == TrialState.FAIL] == [1, 2, 3]
    log = sweep.proc.stdout + sweep.proc.stderr  # type: ignore[union-attr]
    assert "RuntimeError: boom on call 2" in log
    assert "returned nan" in log and "returned None" in log
    assert sweep.results["n_failed"] == 3


def test_exceeding_max_failures_stops_with_a_clear_error(tmp_path: Path) -> None:
    sweep = Sweep(tmp_path)
    proc = sweep.run(
        SWEEPER,
        "hydra.sweeper.n_trials=10",
        "hydra.sweeper.max_failures=1",
        "x=interval(-5, 5)",
        "behavior.raise_on=[1,2,3,4]",
    )
    assert proc.returncode != 0
    assert len(sweep.calls) == 2  # the 2nd failure exceeds the budget of 1
    assert "Traceback" not in proc.stderr
    errors = sweep.error_lines()
    assert errors[-1].startswith("sweep stopped: 2 trials failed, more than hydra.sweeper.max_failures=1")
    assert "RuntimeError: boom on call 2" in errors[-1]
    assert sweep.results["n_failed"] == 2  # results are written even when the sweep stops


def test_rerunning_a_sweep_resumes_its_study_in_the_mlplat_store(tmp_path: Path) -> None:
    """storage: null uses tracking.url (relative to the cwd), beside mlplat's own tables."""
    (tmp_path / "runs").mkdir()
    db = tmp_path / "runs" / "mlplat.db"
    with sqlite3.connect(db) as con:  # what mlplat's migrations would have created
        con.execute("CREATE TABLE mlplat_alembic_version (version_num VARCHAR(32) PRIMARY KEY)")
        con.execute("INSERT INTO mlplat_alembic_version VALUES ('0001')")
        con.execute("CREATE TABLE runs (id INTEGER PRIMARY KEY, name TEXT)")
    common = (SWEEPER, "tracking.url=sqlite:///runs/mlplat.db", "x=interval(-5, 5)", "y=interval(-5, 5)")

    first = Sweep(tmp_path, "first")
    first.ok(*common, "hydra.sweeper.n_trials=5", env={"MLPLAT_INVOCATION_ID": "inv-1"})
    assert first.results["n_complete"] == 5
    assert first.results["study_name"].startswith("mlplat-")

    second = Sweep(tmp_path, "second")
    second.ok(*common, "hydra.sweeper.n_trials=8", env={"MLPLAT_INVOCATION_ID": "inv-2"})
    assert second.results["study_name"] == first.results["study_name"]
    assert second.results["n_complete"] == 8
    assert len(second.calls) == 8  # 5 in the first run, 3 in the second

    url = f"sqlite:///{db}"
    assert len(optuna.get_all_study_names(storage=url)) == 1
    study = load_study(url, second.results)
    assert len(study.get_trials(states=(TrialState.COMPLETE,))) == 8
    assert study.user_attrs["mlplat_sweep_id"] == "inv-2"
    assert [t.user_attrs["mlplat_sweep_id"] for t in study.trials] == ["inv-1"] * 5 + ["inv-2"] * 3
    # no two trials got the same point although both runs used the same seed settings
    assert len({t.params["x"] for t in study.trials}) == 8
    with sqlite3.connect(db) as con:
        assert con.execute("SELECT version_num FROM mlplat_alembic_version").fetchall() == [("0001",)]


def test_direction_contradicting_the_primary_metric_fails_fast(tmp_path: Path) -> None:
    try:
        importlib.import_module("mlplat.evaluation.metrics")
    except ImportError as exc:
        pytest.skip(f"mlplat.evaluation.metrics is not importable yet: {exc}")
    sweep = Sweep(tmp_path)
    proc = sweep.run(
        SWEEPER, "hydra.sweeper.direction=maximize", "evaluation.primary=rmse", "x=interval(0, 1)"
    )
    assert proc.returncode != 0
    assert sweep.error_lines() == [
        "hydra.sweeper.direction=maximize contradicts evaluation.primary=rmse (lower is better): "
        "remove direction or set it to minimize"
    ]
    assert sweep.calls == []


def test_direction_is_derived_from_the_primary_metric(tmp_path: Path) -> None:
    try:
        importlib.import_module("mlplat.evaluation.metrics")
    except ImportError as exc:
        pytest.skip(f"mlplat.evaluation.metrics is not importable yet: {exc}")
    sweep = Sweep(tmp_path)
    sweep.ok(SWEEPER, "evaluation.primary=roc_auc", "hydra.sweeper.n_trials=2", "x=interval(0, 1)")
    assert sweep.results["direction"] == "maximize"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            ["+sweep=quadratic", "hydra.sweeper.params.x='interval(0.01)'"],
            "hydra.sweeper.params.x=interval(0.01): TypeError while evaluating 'interval(0.01)': "
            "missing a required argument: 'end'",
        ),
        (
            [SWEEPER, "+hydra.sweeper.params.x={type: float, low: 1}"],
            "hydra.sweeper.params.x={'type': 'float', 'low': 1}: a float parameter needs high",
        ),
        (
            [SWEEPER, "+hydra.sweeper.params.nope='interval(0, 1)'"],
            "the search space does not fit the app config: Could not override 'nope'.",
        ),
        (
            [SWEEPER, "x=interval(0, 1)", "hydra.sweeper.sampler._target_=optuna.samplers.NopeSampler"],
            "unknown sampler hydra.sweeper.sampler._target_=optuna.samplers.NopeSampler",
        ),
        (
            [SWEEPER, "x=interval(0, 1)", "hydra.sweeper.direction=up"],
            "hydra.sweeper.direction=up is not valid: use minimize, maximize or null",
        ),
    ],
    ids=["grammar", "dict-form", "unknown-key", "sampler", "direction"],
)
def test_bad_sweep_config_fails_in_one_line_before_any_trial(
    tmp_path: Path, overrides: list[str], message: str
) -> None:
    sweep = Sweep(tmp_path)
    proc = sweep.run(*overrides, "hydra.sweeper.n_trials=1")
    assert proc.returncode != 0
    errors = sweep.error_lines()
    assert len(errors) == 1, proc.stderr
    assert errors[0].startswith(message)
    assert sweep.calls == []
    assert not (sweep.sweep_dir / "optimization_results.yaml").exists()


def test_joblib_launcher_runs_batches_in_parallel(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'opt.db'}"
    sweep = Sweep(tmp_path)
    proc = sweep.ok(
        SWEEPER,
        "hydra/launcher=joblib",
        "hydra.launcher.n_jobs=2",
        "behavior.counter_file=null",  # the call counter is not safe across processes
        "hydra.sweeper.n_trials=4",
        f"hydra.sweeper.storage={url}",
        "x=interval(-5, 5)",
    )
    assert "batches of 2" in proc.stdout + proc.stderr  # n_jobs: null follows the launcher
    calls = sweep.calls
    assert len(calls) == 4
    assert len({c["pid"] for c in calls}) >= 2  # jobs ran in worker processes
    study = load_study(url, sweep.results)
    assert len(study.get_trials(states=(TrialState.COMPLETE,))) == 4


def test_grid_sampler_visits_each_point_once_and_caps_n_trials(tmp_path: Path) -> None:
    sweep = Sweep(tmp_path)
    proc = sweep.ok(
        SWEEPER,
        "hydra/sweeper/sampler=grid",
        "hydra.sweeper.n_trials=10",
        "depth=choice(2, 3)",
        "kind=range(0, 2)",
        "+behavior.unused=1",  # a fixed override reaches every trial unchanged
    )
    assert "n_trials capped at the grid size, 4" in proc.stdout + proc.stderr
    assert sorted((c["depth"], c["kind"]) for c in sweep.calls) == [(2, 0), (2, 1), (3, 0), (3, 1)]
    assert sweep.results["n_complete"] == 4
    assert "+behavior.unused=1" in sweep.results["best_overrides"]


def test_custom_search_space_function_adds_parameters(tmp_path: Path) -> None:
    sweep = Sweep(tmp_path)
    sweep.ok(
        SWEEPER,
        "hydra.sweeper.custom_search_space=search_ext.extend",
        "hydra.sweeper.n_trials=3",
        "x=interval(0, 1)",
    )
    calls = sweep.calls
    assert len(calls) == 3
    assert all(-1 <= c["y"] <= 1 and 0 <= c["x"] <= 1 for c in calls)
    assert len({c["y"] for c in calls}) == 3
    assert set(sweep.results["best_params"]) == {"x", "y"}
