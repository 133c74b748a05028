"""conf/sweep and conf/launcher presets compose to the sweeper/launcher they promise, and every
mistake in a sweep command line is one clear line before any job (checked in-process, where
composing costs ~0.3 s instead of a CLI start)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from mlplat import ops
from mlplat.config.compose import compose, group_options
from mlplat.errors import ConfigError

CONF = Path(__file__).resolve().parents[2] / "conf"


def _hydra(*overrides: str):
    ops.register_resolvers()
    return compose(list(overrides), return_hydra_config=True).hydra


@pytest.mark.parametrize("preset", sorted(p.stem for p in (CONF / "sweep").glob("*_optuna.yaml")))
def test_optuna_presets_search_every_kind_of_space_of_their_model(preset: str):
    cfg = compose([f"sweep={preset}"], return_hydra_config=True)
    assert cfg.hydra.sweeper._target_.endswith("MlplatOptunaSweeper")
    assert cfg.model.name == preset.removesuffix("_optuna")
    plan = ops.plan_sweep([f"sweep={preset}"])
    assert plan.total == cfg.hydra.sweeper.n_trials
    # each probe point builds the real estimator: every searched key exists in the model
    for probe in plan.check_overrides:
        ops.check_train_overrides(list(probe))


def test_optuna_presets_together_use_interval_int_log_and_choice():
    texts = " ".join((CONF / "sweep" / f).read_text() for f in ("random_forest_optuna.yaml", "hist_gb_optuna.yaml",
                                                                 "logreg_optuna.yaml", "xgboost_optuna.yaml"))
    for kind in ("int(interval(", "tag(log, interval(", "choice(", "categorical"):
        assert kind in texts


def test_grid_preset_counts_its_grid_and_the_command_line_wins_per_key():
    assert ops.plan_sweep(["sweep=grid_rf"]).total == 9
    plan = ops.plan_sweep(["sweep=grid_rf", "model.params.max_depth=3", "model.params.min_samples_leaf=1,2,4"])
    assert plan.total == 3 * 3  # n_estimators (preset) x min_samples_leaf (command line); max_depth pinned
    assert plan.sweeper == "MlplatBasicSweeper"


def test_joblib_preset_runs_two_workers():
    hc = _hydra("launcher=joblib")
    assert hc.launcher._target_.endswith("JoblibLauncher") and hc.launcher.n_jobs == 2


@pytest.mark.skipif(importlib.util.find_spec("hydra_plugins.hydra_ray_launcher") is None,
                    reason="pip install 'mlplat[ray]'")
def test_ray_preset_starts_local_ray_or_joins_the_address_from_the_environment(monkeypatch):
    from omegaconf import OmegaConf

    monkeypatch.delenv("MLPLAT_RAY_ADDRESS", raising=False)
    monkeypatch.setenv("MLPLAT_STORE_URL", "sqlite:////srv/mlplat.db")
    local = OmegaConf.to_container(_hydra("launcher=ray").launcher.ray.init, resolve=True)
    # the jobs get the sweep's MLPLAT_* environment, wherever Ray runs them
    assert local.pop("runtime_env")["env_vars"]["MLPLAT_STORE_URL"] == "sqlite:////srv/mlplat.db"
    assert local == {"address": None, "num_cpus": 2, "include_dashboard": False, "object_store_memory": 78643200}
    monkeypatch.setenv("MLPLAT_RAY_ADDRESS", "10.1.2.3:6379")
    remote = OmegaConf.to_container(_hydra("launcher=ray").launcher.ray.init, resolve=True)
    remote.pop("runtime_env")
    # Ray refuses num_cpus/include_dashboard when it connects to a running cluster
    assert remote == {"address": "10.1.2.3:6379", "num_cpus": None, "include_dashboard": None,
                      "object_store_memory": None}


@pytest.mark.skipif(importlib.util.find_spec("hydra_plugins.hydra_ray_launcher") is None,
                    reason="pip install 'mlplat[ray]'")
def test_the_ray_preset_never_reruns_a_trial_and_a_lost_trial_is_a_failed_job(monkeypatch, capsys):
    import math

    import ray
    from hydra.core.utils import JobStatus

    from hydra_plugins.mlplat_ray_launcher import _core

    hc = _hydra("launcher=ray")
    assert hc.launcher._target_.endswith("MlplatRayLauncher") and hc.launcher.ray.remote.max_retries == 0

    def lost(ref):
        raise ray.exceptions.WorkerCrashedError()

    monkeypatch.setattr(ray, "get", lost)
    ret = _core._result(3, ["model=knn", "tracking.url=postgresql://bob:hunter22@db/mlplat"], ref=None)
    # what mlplat's task returns for a failed job: the sweep goes on, the sweeper counts a failure
    assert ret.status == JobStatus.COMPLETED and math.isnan(ret.return_value)
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("error: trial #3 (model=knn tracking.url=postgresql://bob:***@db/mlplat) ended "
                           "without a result: WorkerCrashedError: The worker died unexpectedly")


@pytest.mark.skipif(importlib.util.find_spec("hydra_plugins.hydra_submitit_launcher") is None,
                    reason="pip install 'mlplat[slurm]'")
def test_slurm_preset_composes_with_its_resources():
    hc = _hydra("launcher=slurm", "hydra.launcher.partition=cpu")
    assert hc.launcher._target_.endswith("SlurmLauncher")
    assert (hc.launcher.timeout_min, hc.launcher.cpus_per_task, hc.launcher.mem_gb, hc.launcher.partition) == \
        (60, 4, 8, "cpu")


def test_a_launcher_preset_without_its_plugin_says_which_extra_to_install(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "hydra_plugins.hydra_submitit_launcher" else real(name, *a))
    with pytest.raises(ConfigError, match=r"launcher=slurm needs .*pip install 'mlplat\[slurm\]'"):
        ops.check_train_overrides(["launcher=slurm"], multirun=True)


@pytest.mark.parametrize(("overrides", "message"), [
    (["launcher=rey"], r"unknown launcher preset 'rey': choose one of joblib, ray, slurm"),
    (["sweep=grid_fr"], r"unknown sweep preset 'grid_fr': choose one of grid_rf"),
    (["hydra/sweeper=optuna"], r"unknown option 'sweeper/optuna' .* hydra/sweeper=mlplat_optuna"),
    (["sweep=xgboost_optuna", "model.params.max_depth=int(interval(8, 2))"], r"malformed search space: .*max_depth"),
    (["sweep=random_forest_optuna", "+model.params.n_estimatorz=int(interval(5, 10))"],
     r"RandomForestClassifier.*n_estimatorz"),
    (["sweep=grid_rf", "+model.params.max_featurez=sqrt,log2"], r"RandomForestClassifier.*max_featurez"),
    (["sweep=random_forest_optuna", "model.params.max_depth=int(interval(0, 4))"], r"'max_depth' parameter .* Got 0"),
])
def test_bad_sweep_input_is_one_line_before_any_job(overrides: list[str], message: str):
    with pytest.raises(ConfigError, match=message) as info:
        ops.check_train_overrides(overrides, multirun=True)
    assert "\n" not in str(info.value)


def test_an_unreachable_ray_address_is_refused_before_any_job(monkeypatch):
    if importlib.util.find_spec("hydra_plugins.hydra_ray_launcher") is None:
        pytest.skip("pip install 'mlplat[ray]'")
    import socket

    with socket.socket() as s:  # a port nobody listens on: bound, never listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        monkeypatch.setenv("MLPLAT_RAY_ADDRESS", f"127.0.0.1:{port}")
        with pytest.raises(ConfigError, match=rf"cannot reach the Ray cluster at 127.0.0.1:{port}"):
            ops.check_train_overrides(["model=logreg,knn", "launcher=ray"], multirun=True)


def test_every_preset_file_is_listed_as_an_option():
    assert set(group_options("launcher")) == {"joblib", "ray", "slurm"}
    assert {"grid_rf", "xgboost_optuna", "random_forest_optuna", "hist_gb_optuna", "logreg_optuna"} <= \
        set(group_options("sweep"))


def test_ray_trials_that_left_no_run_are_counted_against_the_plan():
    """A Ray worker that dies before its job records a start leaves no run to mark crashed: the
    driver counts the plan's trials against the runs recorded and fails the command."""
    from mlplat.app import _unrecorded
    from mlplat.ops.sweeps import SweepPlan

    ray = SweepPlan(sweeper="BasicSweeper", launcher="MlplatRayLauncher", total=3, parallel=2, metric=None)
    assert _unrecorded(ray, 2) == 1 and _unrecorded(ray, 3) == 0
    other = SweepPlan(sweeper="BasicSweeper", launcher="BasicLauncher", total=3, parallel=1, metric=None)
    assert _unrecorded(other, 2) == 0 and _unrecorded(None, 0) == 0
    unknown = SweepPlan(sweeper="OptunaSweeper", launcher="MlplatRayLauncher", total=None, parallel=2, metric=None)
    assert _unrecorded(unknown, 0) == 0
