"""A tiny Hydra app for the sweeper tests: returns a known function of its config.

``behavior`` makes chosen calls fail (raise, NaN, None) by call number, counted in a file, so
failure tests are deterministic whatever the sampler proposes; ``record_file`` gets one JSON
line per call with the values the job received.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import hydra
from omegaconf import DictConfig


def _next_call(counter_file: str | None) -> int:
    if not counter_file:
        return 0
    path = Path(counter_file)
    n = int(path.read_text()) + 1 if path.exists() else 1
    path.write_text(str(n))
    return n


@hydra.main(version_base=None, config_path="conf", config_name="config")
def main(cfg: DictConfig) -> float | None:
    behavior = cfg.behavior
    call = _next_call(behavior.counter_file)
    if behavior.record_file:
        row = {
            "call": call,
            "pid": os.getpid(),
            "x": cfg.x,
            "y": cfg.y,
            "lr": cfg.lr,
            "depth": cfg.depth,
            "kind": cfg.kind,
        }
        with open(behavior.record_file, "a") as f:
            f.write(json.dumps(row) + "\n")
    if call in behavior.raise_on:
        raise RuntimeError(f"boom on call {call}")
    if call in behavior.nan_on:
        return math.nan
    if call in behavior.none_on:
        return None
    return (cfg.x - 2.0) ** 2 + (cfg.y + 1.0) ** 2 + 0.01 * cfg.depth


if __name__ == "__main__":
    main()
