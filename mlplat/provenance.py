"""Where a run came from: code version and package versions (cached per process)."""

from __future__ import annotations

import functools
import hashlib
import json
import subprocess
from importlib import metadata

PACKAGES = ("mlplat", "scikit-learn", "xgboost-cpu", "xgboost", "pandas", "numpy", "scipy", "hydra-core",
            "omegaconf", "optuna", "sqlalchemy", "pyarrow")


@functools.cache
def code_version() -> tuple[str, bool]:
    """(git sha or 'unknown', dirty flag) of the working directory's repository."""
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5)
        if sha.returncode != 0:
            return "unknown", False
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                               text=True, timeout=5)
        return sha.stdout.strip(), bool(dirty.stdout.strip())
    except (OSError, subprocess.TimeoutExpired):
        return "unknown", False


@functools.cache
def package_versions() -> dict[str, str]:
    out = {}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def config_hash(config: dict) -> str:
    """sha256 of the resolved config (key order independent)."""
    return hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()
