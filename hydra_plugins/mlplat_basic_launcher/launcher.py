# No ``from __future__ import annotations``: Hydra's plugin scan executes this module
# before it is in sys.modules, and dataclasses cannot resolve string annotations then.
import copy
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple  # noqa: UP035 - OmegaConf needs typing generics

from hydra._internal.config_loader_impl import ConfigLoaderImpl, get_overrides_dirname
from hydra._internal.core_plugins.basic_launcher import BasicLauncher
from hydra.core.config_store import ConfigStore
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override
from hydra.core.utils import JobReturn, configure_log, filter_overrides, run_job, setup_globals
from omegaconf import DictConfig, OmegaConf, open_dict

log = logging.getLogger(__name__)


class JobConfigs:
    """Job configs as Hydra's ``load_sweep_config`` makes them, composed once per group choice."""

    def __init__(self, hydra_context, config: DictConfig) -> None:
        self.hydra_context, self.config = hydra_context, config
        self._bases: Dict[Tuple[str, ...], DictConfig] = {}  # noqa: UP006

    def _split(self, overrides: Sequence[str]) -> Optional[Tuple[List[Override], List[Override]]]:  # noqa: UP006, UP045
        """(group overrides, value overrides), or None when only a full composition is safe."""
        parsed = OverridesParser.create().parse_overrides(list(overrides))
        repo = self.hydra_context.config_loader.repository
        groups, values = [], []
        for o in parsed:
            if o.is_hydra_override() or o.package is not None or o.is_delete():
                return None
            if repo.group_exists(o.key_or_group) and not isinstance(o.value(), dict):
                groups.append(o)
            else:
                values.append(o)
        return groups, values

    def __call__(self, overrides: Sequence[str]) -> DictConfig:
        """The config Hydra's ``load_sweep_config`` would give for ``overrides``."""
        loader = self.hydra_context.config_loader
        split = self._split(overrides)
        if split is None or not split[1]:
            return loader.load_sweep_config(self.config, list(overrides))
        groups, values = split
        key = tuple(o.input_line for o in groups)
        base = self._bases.get(key)
        if base is None:
            base = loader.load_sweep_config(self.config, list(key))
            self._bases[key] = base
        cfg = copy.deepcopy(base)
        ConfigLoaderImpl._apply_overrides_to_config(values, cfg)
        app = OverridesParser.create().parse_overrides(list(overrides))
        with open_dict(cfg.hydra):
            cfg.hydra.overrides.task = [o.input_line for o in app]
            cfg.hydra.job.override_dirname = get_overrides_dirname(
                overrides=app,
                kv_sep=cfg.hydra.job.config.override_dirname.kv_sep,
                item_sep=cfg.hydra.job.config.override_dirname.item_sep,
                exclude_keys=cfg.hydra.job.config.override_dirname.exclude_keys,
            )
        OmegaConf.copy_cache(from_config=self.config, to_config=cfg)
        return cfg


class ReusesCompositions:
    """Launcher mixin: ``job_config`` composes once per combination of config-group choices
    (one JobConfigs per sweep config; mlplat's basic and joblib launchers both use it)."""

    def job_config(self, overrides: Sequence[str]) -> DictConfig:
        if getattr(self, "_configs", None) is None or self._configs.config is not self.config:
            self._configs = JobConfigs(self.hydra_context, self.config)
        return self._configs(overrides)


class MlplatBasicLauncher(ReusesCompositions, BasicLauncher):
    """BasicLauncher that reuses one composition per combination of config-group choices."""

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        # BasicLauncher.launch with job_config() in place of load_sweep_config()
        setup_globals()
        assert self.hydra_context is not None and self.config is not None and self.task_function is not None
        configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        Path(str(self.config.hydra.sweep.dir)).mkdir(parents=True, exist_ok=True)
        log.info(f"Launching {len(job_overrides)} jobs locally")
        runs = []
        for idx, overrides in enumerate(job_overrides):
            idx = initial_job_idx + idx
            log.info(f"\t#{idx} : {' '.join(filter_overrides(overrides))}")
            sweep_config = self.job_config(overrides)
            with open_dict(sweep_config):
                sweep_config.hydra.job.id = idx
                sweep_config.hydra.job.num = idx
            runs.append(run_job(hydra_context=self.hydra_context, task_function=self.task_function,
                                config=sweep_config, job_dir_key="hydra.sweep.dir",
                                job_subdir_key="hydra.sweep.subdir"))
            configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        return runs


@dataclass
class MlplatBasicLauncherConf:
    _target_: str = "hydra_plugins.mlplat_basic_launcher.launcher.MlplatBasicLauncher"


ConfigStore.instance().store(group="hydra/launcher", name="mlplat_basic", node=MlplatBasicLauncherConf,
                             provider="mlplat")
