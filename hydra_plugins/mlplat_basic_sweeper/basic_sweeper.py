# No ``from __future__ import annotations``: Hydra's plugin scan executes this module
# before it is in sys.modules, and dataclasses cannot resolve string annotations then.
import os
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence  # noqa: UP035 - OmegaConf needs typing generics

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.config_store import ConfigStore


class MlplatBasicSweeper(BasicSweeper):
    """BasicSweeper that trusts mlplat's pre-check instead of composing each job twice."""

    def validate_batch_is_legal(self, batch: Sequence[Sequence[str]]) -> None:
        if os.environ.get("MLPLAT_PRECHECKED") == "1":
            return
        super().validate_batch_is_legal(batch)


@dataclass
class MlplatBasicSweeperConf:
    _target_: str = "hydra_plugins.mlplat_basic_sweeper.basic_sweeper.MlplatBasicSweeper"
    max_batch_size: Optional[int] = None  # noqa: UP045
    params: Optional[Dict[str, str]] = None  # noqa: UP006, UP045


ConfigStore.instance().store(group="hydra/sweeper", name="mlplat_basic", node=MlplatBasicSweeperConf,
                             provider="mlplat")

__all__: List[str] = ["MlplatBasicSweeper", "MlplatBasicSweeperConf"]  # noqa: UP006
