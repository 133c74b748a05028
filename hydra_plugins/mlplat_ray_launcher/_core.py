"""The launch of MlplatRayLauncher (see launcher.py); imports Ray."""
# No ``from __future__ import annotations``, as in launcher.py (loaded the same way).
import logging
import math
import sys
from pathlib import Path
from typing import Any, List, Sequence  # noqa: UP035

import ray
from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, JobStatus, configure_log, filter_overrides, setup_globals
from hydra_plugins.hydra_ray_launcher._launcher_util import launch_job_on_ray, start_ray
from omegaconf import open_dict

from mlplat import redact

log = logging.getLogger(__name__)

# the ways a Ray task ends without its function's result: its worker process or its node died,
# its result was lost with a node, it was cancelled. (An exception inside a job is not one of
# them: Hydra's run_job returns it as a failed JobReturn, and mlplat's task returns NaN.)
LOST = (ray.exceptions.WorkerCrashedError, ray.exceptions.NodeDiedError, ray.exceptions.LocalRayletDiedError,
        ray.exceptions.ObjectLostError, ray.exceptions.OutOfMemoryError, ray.exceptions.TaskCancelledError)


def launch(launcher: Any, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
    # hydra_ray_launcher._core.launch up to the submission, unchanged
    setup_globals()
    assert launcher.config is not None and launcher.hydra_context is not None
    assert launcher.task_function is not None
    configure_log(launcher.config.hydra.hydra_logging, launcher.config.hydra.verbose)
    sweep_dir = Path(str(launcher.config.hydra.sweep.dir))
    sweep_dir.mkdir(parents=True, exist_ok=True)
    log.info(f"Ray Launcher is launching {len(job_overrides)} jobs, sweep output dir: {sweep_dir}")
    launcher.ray_cfg.init.setdefault("object_store_memory", 78643200)
    start_ray(launcher.ray_cfg.init)
    jobs: List[Any] = []  # noqa: UP006
    for i, overrides in enumerate(job_overrides):
        idx = initial_job_idx + i
        log.info(f"\t#{idx} : {' '.join(filter_overrides(overrides))}")
        sweep_config = launcher.hydra_context.config_loader.load_sweep_config(launcher.config, list(overrides))
        with open_dict(sweep_config):
            sweep_config.hydra.job.id = f"job_id_for_{idx}"
            sweep_config.hydra.job.num = idx
            ref = launch_job_on_ray(launcher.hydra_context, launcher.ray_cfg.remote, sweep_config,
                                    launcher.task_function, Singleton.get_state())
        jobs.append((idx, list(overrides), ref))
    # every trial is waited for, in submission order: a lost one does not abandon the others
    return [_result(idx, overrides, ref) for idx, overrides, ref in jobs]


def _result(idx: int, overrides: List[str], ref: Any) -> JobReturn:  # noqa: UP006
    try:
        return ray.get(ref)
    except LOST as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        # printed too (the driver's log goes to stdout), masked: the overrides may hold the store's URL
        line = redact.text(f"trial #{idx} ({' '.join(redact.override(o) for o in filter_overrides(overrides))}) "
                           f"ended without a result: {type(exc).__name__}: {reason}")
        log.error("%s", line)
        print(f"error: {line}", file=sys.stderr)
        return JobReturn(overrides=overrides, status=JobStatus.COMPLETED, _return_value=math.nan)
