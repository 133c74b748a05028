"""mlplat's Ray launcher: hydra-ray-launcher's jobs, every trial waited for.

hydra-ray-launcher ends its launch with ``[ray.get(ref) for ref in refs]``. When a trial's
worker process dies (SIGKILL, the OOM killer, a lost node), ``ray.get`` raises for it: the
launch is abandoned with the other trials still running on the cluster, Hydra prints a
traceback, and `mlplat train` then marks those live trials crashed. This launcher submits the
jobs the same way (``ray.init`` and ``ray.remote`` options from ``hydra.launcher.ray``), waits
for every one, and turns a trial that ended without a result into what mlplat's task returns
for a failed job (NaN, a completed JobReturn), with one ``error:`` line naming the trial: the
sweep goes on, every sweeper counts it as failed, and `mlplat train` records its run crashed.

Ray is imported by the launch only (``_core``): Hydra's plugin scan imports this module in
every `mlplat train`, with or without Ray installed.
"""
# No ``from __future__ import annotations``: Hydra's plugin scan executes this module
# before it is in sys.modules, and dataclasses cannot resolve string annotations then.
from dataclasses import dataclass, field
from typing import Any, Dict, Optional, Sequence  # noqa: UP035 - OmegaConf needs typing generics

from hydra.core.config_store import ConfigStore
from hydra.core.utils import JobReturn
from hydra.plugins.launcher import Launcher
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig


class MlplatRayLauncher(Launcher):
    def __init__(self, ray: DictConfig) -> None:
        self.ray_cfg = ray
        self.hydra_context: Optional[HydraContext] = None  # noqa: UP045
        self.task_function: Optional[TaskFunction] = None  # noqa: UP045
        self.config: Optional[DictConfig] = None  # noqa: UP045

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.config, self.hydra_context, self.task_function = config, hydra_context, task_function

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        # deferred: imports Ray (about a second), which only a launch needs (see the docstring)
        from hydra_plugins.mlplat_ray_launcher import _core

        return _core.launch(self, job_overrides, initial_job_idx)


@dataclass
class RayConf:  # hydra-ray-launcher's RayConf, which this module cannot import without Ray installed
    init: Dict[str, Any] = field(default_factory=lambda: {"address": None})  # noqa: UP006
    remote: Dict[str, Any] = field(default_factory=dict)  # noqa: UP006


@dataclass
class MlplatRayLauncherConf:
    _target_: str = "hydra_plugins.mlplat_ray_launcher.launcher.MlplatRayLauncher"
    ray: RayConf = field(default_factory=RayConf)


ConfigStore.instance().store(group="hydra/launcher", name="mlplat_ray", node=MlplatRayLauncherConf,
                             provider="mlplat")
