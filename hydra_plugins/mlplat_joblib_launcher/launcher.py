# No ``from __future__ import annotations``: Hydra's plugin scan executes this module
# before it is in sys.modules, and dataclasses cannot resolve string annotations then.
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, List, Sequence  # noqa: UP035

from hydra.core.config_store import ConfigStore
from hydra.core.hydra_config import HydraConfig
from hydra.core.utils import JobReturn, configure_log, filter_overrides, run_job, setup_globals
from hydra.types import HydraContext
from hydra_plugins.hydra_joblib_launcher._core import process_joblib_cfg
from hydra_plugins.hydra_joblib_launcher.config import JobLibLauncherConf
from hydra_plugins.hydra_joblib_launcher.joblib_launcher import JoblibLauncher
from joblib import Parallel, delayed
from omegaconf import DictConfig, open_dict

from hydra_plugins.mlplat_basic_launcher.launcher import ReusesCompositions

log = logging.getLogger(__name__)


def _execute(idx: int, config: DictConfig, callbacks: Any, task_function: Any) -> JobReturn:
    """One job in a loky worker: the config arrives composed, only the run happens here."""
    setup_globals()
    HydraConfig.instance().set_config(config)
    return run_job(hydra_context=HydraContext(config_loader=None, callbacks=callbacks), config=config,
                   task_function=task_function, job_dir_key="hydra.sweep.dir", job_subdir_key="hydra.sweep.subdir")


class MlplatJoblibLauncher(ReusesCompositions, JoblibLauncher):
    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        setup_globals()
        assert self.config is not None and self.task_function is not None and self.hydra_context is not None
        configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        Path(str(self.config.hydra.sweep.dir)).mkdir(parents=True, exist_ok=True)
        joblib_cfg = dict(self.joblib)
        joblib_cfg["backend"] = "loky"  # threads are incompatible with Hydra's per-job globals
        process_joblib_cfg(joblib_cfg)
        configs = []
        for i, overrides in enumerate(job_overrides):
            idx = initial_job_idx + i
            log.info(f"\t#{idx} : {' '.join(filter_overrides(overrides))}")
            cfg = self.job_config(overrides)
            with open_dict(cfg):
                cfg.hydra.job.id = f"{cfg.hydra.job.name}_{idx}"
                cfg.hydra.job.num = idx
            configs.append((idx, cfg))
        log.info(f"Joblib.Parallel({joblib_cfg}) is launching {len(configs)} jobs")
        runs: List[JobReturn] = Parallel(**joblib_cfg)(  # noqa: UP006
            delayed(_execute)(idx, cfg, self.hydra_context.callbacks, self.task_function) for idx, cfg in configs)
        return runs


@dataclass
class MlplatJoblibLauncherConf(JobLibLauncherConf):
    _target_: str = "hydra_plugins.mlplat_joblib_launcher.launcher.MlplatJoblibLauncher"


ConfigStore.instance().store(group="hydra/launcher", name="mlplat_joblib", node=MlplatJoblibLauncherConf,
                             provider="mlplat")
