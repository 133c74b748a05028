"""`mlplat train` composes each config once (mlplat.config.memo): what the memo hands out
must equal what Hydra composes fresh, for every way the command asks for it."""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra import initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.types import RunMode
from omegaconf import OmegaConf

from mlplat.config.compose import conf_dir, setup
from mlplat.config.memo import composing_once


def _loader_compose(overrides: list[str], mode: RunMode, conf: Path | None = None, job: str = "mlplat",
                    validate: bool = True):
    """Compose the way the Hydra app does (ConfigLoaderImpl.load_configuration)."""
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(conf or conf_dir()), version_base="1.3", job_name=job):
            hydra = GlobalHydra.instance().hydra
            return hydra.compose_config(config_name="config", overrides=list(overrides), run_mode=mode,
                                        validate_sweep_overrides=validate)
    finally:
        GlobalHydra.instance().clear()


def _same(a, b) -> None:
    assert OmegaConf.to_container(a, resolve=False) == OmegaConf.to_container(b, resolve=False)
    assert OmegaConf.is_struct(a) == OmegaConf.is_struct(b)


def _counting(monkeypatch) -> dict:
    from hydra._internal.config_loader_impl import ConfigLoaderImpl

    calls = {"n": 0}
    original = ConfigLoaderImpl._load_configuration_impl

    def counted(self, *args, **kwargs):
        calls["n"] += 1
        return original(self, *args, **kwargs)

    monkeypatch.setattr(ConfigLoaderImpl, "_load_configuration_impl", counted)
    return calls


def test_a_run_composes_once_and_gets_what_hydra_would(monkeypatch):
    setup()
    overrides = ["dataset=breast_cancer", "model=logreg", "seed=7"]
    fresh_run = _loader_compose([*overrides, "hydra.mode=RUN"], RunMode.RUN)
    fresh_multi = _loader_compose(overrides, RunMode.MULTIRUN, validate=False)
    calls = _counting(monkeypatch)
    with composing_once():
        first = _loader_compose(overrides, RunMode.RUN)      # mlplat's pre-check
        first.seed = 99                                     # a caller mutating its copy
        mode = _loader_compose(overrides, RunMode.MULTIRUN, validate=False)  # Hydra's get_mode
        run = _loader_compose([*overrides, "hydra.mode=RUN"], RunMode.RUN)   # Hydra's run
    assert calls["n"] == 1
    _same(run, fresh_run)
    _same(mode, fresh_multi)
    assert run.hydra.mode == RunMode.RUN and list(run.hydra.overrides.hydra) == ["hydra.mode=RUN"]
    # outside the block every call composes again
    _loader_compose(overrides, RunMode.RUN)
    assert calls["n"] == 2


def test_sweep_overrides_still_rejected_in_run_mode():
    setup()
    with composing_once():
        _loader_compose(["seed=1,2"], RunMode.RUN, validate=False)  # kept in the memo
        with pytest.raises(Exception, match="[Ss]weep|multirun|-m"):
            _loader_compose(["seed=1,2"], RunMode.RUN)  # the memo's answer is checked as composing would


def test_env_cwd_and_runtime_job_name_are_refilled(tmp_path, monkeypatch):
    conf = tmp_path / "conf"
    conf.mkdir()
    # no hydra.job.name: Hydra takes it from the runtime (the app's task name)
    (conf / "config.yaml").write_text("x: 1\nhydra:\n  job:\n    env_copy: [MEMO_TEST_VAR]\n")
    monkeypatch.setenv("MEMO_TEST_VAR", "before")
    with composing_once():
        a = _loader_compose([], RunMode.RUN, conf=conf, job="precheck")
        monkeypatch.setenv("MEMO_TEST_VAR", "after")
        elsewhere = tmp_path / "sub"
        elsewhere.mkdir()
        monkeypatch.chdir(elsewhere)
        b = _loader_compose([], RunMode.RUN, conf=conf, job="app")
    fresh = _loader_compose([], RunMode.RUN, conf=conf, job="app")
    assert a.hydra.job.name == "precheck" and a.hydra.job.env_set.MEMO_TEST_VAR == "before"
    assert b.hydra.job.name == "app" and b.hydra.job.env_set.MEMO_TEST_VAR == "after"
    assert b.hydra.runtime.cwd == str(elsewhere)
    _same(b, fresh)
