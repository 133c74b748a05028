"""Sweeps through the real CLI: a grid preset on 2 joblib workers, an Optuna preset, the
progress display, the pictures. One sweep of each kind serves several tests (module fixtures)."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import joblib
import pytest

from mlplat.tracking.store import Store

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.conftest import Project  # noqa: E402 - the shared fixture class, for module-scoped projects

PNG = b"\x89PNG\r\n\x1a\n"


def _store(project: Project) -> Store:
    return Store.open(project.store_url, str(project.root / "runs" / "artifacts"))


def _runs(project: Project, sweep_id: str) -> list[dict]:
    """Full run records, read in-process (a CLI start per run would double the test's time)."""
    from mlplat.tracking import runs as runs_store

    store = _store(project)
    return [runs_store.get_run(store, r["id"]) for r in runs_store.sweep_trials(store, sweep_id)]


@pytest.fixture(scope="module")
def grid(tmp_path_factory) -> tuple[Project, subprocess.CompletedProcess, dict]:
    """sweep=grid_rf (3 depths from the preset x 10 trees from the command line) on 2 joblib workers,
    run under a pseudo-terminal (`script`) so that the progress bar is drawn."""
    project = Project(tmp_path_factory.mktemp("grid"))
    args = ["train", "-m", "sweep=grid_rf", "launcher=joblib", "model.params.n_estimators=10", "evaluation=fast",
            f"tracking.url={project.store_url}", f"tracking.artifacts={project.root / 'runs' / 'artifacts'}"]
    command = shlex.join([sys.executable, "-m", "mlplat.cli", *args])
    proc = subprocess.run(["script", "-qec", command, "/dev/null"], cwd=project.root, env=project.env(COLUMNS="160"),
                          capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stdout[-4000:]
    sweep = project.json("sweeps", "list")[0]
    return project, proc, sweep


def test_grid_preset_runs_every_combination_on_two_workers(grid):
    project, _proc, sweep = grid
    runs = _runs(project, sweep["id"])
    assert [r["status"] for r in runs] == ["done"] * 3
    depths = sorted(str(r["params"]["max_depth"]) for r in runs)
    assert depths == ["4", "8", "None"]  # the preset's grid; n_estimators pinned by the command line
    assert sweep["n_done"] == 3 and sweep["launcher"].endswith("JoblibLauncher")


def test_joblib_trials_get_cores_divided_by_workers_threads(grid):
    project, _proc, sweep = grid
    run = _runs(project, sweep["id"])[0]
    forest = joblib.load(Path(run["artifact_dir"]) / "model.joblib")[-1].estimator_  # inside LabelEncoded
    assert forest.n_jobs == max(1, (os.cpu_count() or 1) // 2)


def test_progress_bar_is_drawn_on_a_terminal(grid):
    _project, proc, _sweep = grid
    out = proc.stdout  # `script` merges the pseudo-terminal's stdout and stderr
    assert "sweep" in out and "3/3" in out and "3 done, 0 failed, 0 running" in out
    assert "elapsed" in out and "left ~" in out


@pytest.fixture(scope="module")
def optuna_sweep(tmp_path_factory) -> tuple[Project, subprocess.CompletedProcess, dict]:
    project = Project(tmp_path_factory.mktemp("optuna"))
    proc = project.train("-m", "sweep=logreg_optuna", "hydra.sweeper.n_trials=3", "evaluation=fast")
    return project, proc, project.json("sweeps", "list")[0]


def test_without_a_terminal_progress_is_one_line_per_trial(optuna_sweep):
    _project, proc, _sweep = optuna_sweep
    lines = [line for line in proc.stderr.splitlines() if line.startswith("[mlplat] trial ")]
    assert len(lines) == 3 and "trial 3/3 done" in lines[-1] and "best roc_auc=" in lines[-1]


def test_optuna_sweep_links_its_study(optuna_sweep):
    _project, _proc, sweep = optuna_sweep
    assert sweep["n_done"] == 3 and sweep["optuna_study"].startswith("mlplat-")


def test_leaderboard_png_and_html_for_a_sweep(optuna_sweep):
    project, _proc, sweep = optuna_sweep
    out = project.root / "lb.png"
    # the 8 characters the tables show are enough, as for `runs show`
    project.mlplat("leaderboard", "--sweep", sweep["id"][:8], "--format", "png", "--output", str(out), check=True)
    assert out.read_bytes().startswith(PNG)
    table = project.json("leaderboard", "--sweep", sweep["id"][:8])
    assert len(table["rows"]) == 3
    project.mlplat("leaderboard", "--sweep", sweep["id"], "--format", "html", "-o", "lb.html", check=True)
    page = (project.root / "lb.html").read_text()
    assert '<img alt="leaderboard chart" src="data:image/png;base64,' in page
    assert "http" not in page.replace("http-equiv", "")  # self-contained: nothing fetched from elsewhere
    from mlplat import ops

    best = ops.leaderboard(filters={"sweep_id": sweep["id"]}, store=_store(project))["rows"][0]
    assert f"<code>{best['id']}</code>" in page.split('<tr class="best">')[1].split("</tr>")[0]  # the best row stands out


def test_sweep_plot_shows_history_params_and_importance(optuna_sweep):
    project, _proc, sweep = optuna_sweep
    proc = project.mlplat("sweeps", "show", sweep["id"], "--plot", "plot.png", check=True)
    assert "wrote plot.png" in proc.stdout
    assert (project.root / "plot.png").read_bytes().startswith(PNG)
    from mlplat import ops

    data = ops.sweep_data(sweep["id"], store=_store(project))
    assert data["keys"] == ["model.classifier_params.C", "model.classifier_params.class_weight"]
    assert len(data["trials"]) == 3 and all("model.classifier_params.C" in t["params"] for t in data["trials"])
    assert set(data["importances"]) == set(data["keys"])  # from the Optuna study found by its sweep id
    assert data["optuna_study"] == sweep["optuna_study"]


def test_the_importance_panel_names_the_evaluator_that_computed_it(optuna_sweep, monkeypatch):
    import optuna
    from matplotlib.axes import Axes

    from mlplat import ops

    project, _proc, sweep = optuna_sweep
    data = ops.sweep_data(sweep["id"], store=_store(project))
    study = optuna.load_study(study_name=sweep["optuna_study"], storage=project.store_url)
    fanova = optuna.importance.get_param_importances(
        study, evaluator=optuna.importance.FanovaImportanceEvaluator(seed=0))
    assert data["importance_evaluator"] == "fANOVA" and data["importances"] == pytest.approx(dict(fanova))
    titles: list[str] = []
    original = Axes.set_title
    monkeypatch.setattr(Axes, "set_title", lambda ax, text, *a, **k: (titles.append(text), original(ax, text, *a, **k))[1])
    ops.sweep_plot(sweep["id"], store=_store(project))
    assert "parameter importance (Optuna fANOVA)" in titles


def test_resuming_a_finished_study_says_so_and_records_nothing(optuna_sweep):
    from mlplat import ops

    project, _proc, sweep = optuna_sweep
    proc = project.train("-m", "sweep=logreg_optuna", "hydra.sweeper.n_trials=3", "evaluation=fast", check=False)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr  # nothing to do is not a failure
    (line,) = [ln for ln in proc.stderr.splitlines() if ln.startswith("note:")]
    assert f"study {sweep['optuna_study']} already has 3 complete trials" in line
    assert "hydra.sweeper.study_name=" in line  # how to start a new one
    assert [s["id"] for s in project.json("sweeps", "list")] == [sweep["id"]]  # no "failed 0/0/0" sweep
    data = ops.sweep_data(sweep["id"], store=_store(project))
    assert data["optuna_study"] == sweep["optuna_study"] and data["importances"]  # the link is still its own


def test_leaderboard_chart_op_returns_bytes_for_the_bot(optuna_sweep):
    project, _proc, sweep = optuna_sweep
    from mlplat import ops

    store = _store(project)
    png = ops.leaderboard_chart(filters={"sweep_id": sweep["id"]}, top=3, fmt="png", store=store)
    html = ops.leaderboard_chart(filters={"sweep_id": sweep["id"]}, top=3, fmt="html", store=store)
    assert png.startswith(PNG) and html.startswith(b"<!doctype html>")
    assert json.loads(json.dumps(ops.sweep_data(sweep["id"], store=store)["sweep"]))["id"] == sweep["id"]
