"""The mlplat_basic launcher's reused compositions equal Hydra's own, job by job."""

from __future__ import annotations

import pytest
from hydra import initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.utils import JobReturn
from hydra.types import HydraContext, RunMode
from omegaconf import OmegaConf, open_dict

from tests.conftest import REPO

JOBS = [
    # value sweeps over one group choice: the common hyper-parameter sweep
    [["model=random_forest", "model.params.n_estimators=10"], ["model=random_forest", "model.params.n_estimators=20"],
     ["model=random_forest", "model.params.n_estimators=30", "model.params.max_depth=3"]],
    # group choices mixed with values, values first, additions, several groups
    [["model.params.max_iter=50", "model=hist_gb", "dataset=wine"], ["dataset=wine", "model=hist_gb",
                                                                      "model.params.max_iter=60"],
     ["dataset=diabetes", "model=logreg", "seed=3", "evaluation.cv.folds=3"], ["+tags.team=x", "model=knn"]],
    # no value override at all (falls back to Hydra's own composition)
    [["model=xgboost"], ["model=logreg"]],
]


@pytest.fixture
def launcher_and_loader():
    from hydra._internal.callbacks import Callbacks

    from hydra_plugins.mlplat_basic_launcher.launcher import MlplatBasicLauncher
    from mlplat.config.compose import setup

    setup()
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3", job_name="mlplat"):
        loader = GlobalHydra.instance().config_loader()
        master = loader.load_configuration("config", overrides=[], run_mode=RunMode.MULTIRUN)
        launcher = MlplatBasicLauncher()
        launcher.setup(hydra_context=HydraContext(config_loader=loader, callbacks=Callbacks(master)),
                       task_function=lambda cfg: JobReturn(), config=master)
        yield launcher, loader, master
    GlobalHydra.instance().clear()


def _app(cfg):
    """The resolved application config (what a job's task function sees), without Hydra's node."""
    app = cfg.copy()
    with open_dict(app):
        del app["hydra"]
    return OmegaConf.to_container(app, resolve=True)


@pytest.mark.parametrize("jobs", JOBS)
def test_job_configs_equal_hydras_composition(launcher_and_loader, jobs):
    launcher, loader, master = launcher_and_loader
    for overrides in jobs:
        fast = launcher.job_config(overrides)
        slow = loader.load_sweep_config(master, list(overrides))
        assert OmegaConf.to_container(fast, resolve=False) == OmegaConf.to_container(slow, resolve=False), overrides
        assert _app(fast) == _app(slow), overrides
        assert OmegaConf.is_struct(fast) == OmegaConf.is_struct(slow)


def test_an_unknown_value_key_still_fails_like_hydra(launcher_and_loader):
    launcher, _, _ = launcher_and_loader
    with pytest.raises(Exception, match="n_estimatorz"):
        launcher.job_config(["model=random_forest", "model.params.n_estimatorz=3"])
