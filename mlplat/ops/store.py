"""Operations on the store itself: what it holds, and reclaiming artifact space."""

from __future__ import annotations

from mlplat.errors import ConfigError
from mlplat.ops.common import open_store, os_user
from mlplat.tracking import maintenance


def store_stats(*, store=None) -> dict:
    """Runs by status, sweeps, experiments, database and artifact bytes, schema version."""
    return maintenance.stats(store or open_store())


def prune(*, older_than_s: float, keep_registered: bool = True, dry_run: bool = False, actor: str | None = None,
          source: str = "cli", store=None) -> dict:
    """Delete artifact files of unregistered runs older than ``older_than_s`` (audited unless a dry run)."""
    if not keep_registered:
        raise ConfigError("prune never deletes the artifacts of runs a model version references; "
                          "pass --keep-registered to confirm")
    if older_than_s <= 0:
        raise ConfigError(f"the age must be positive (got {older_than_s:g} s): e.g. --older-than 180d")
    store = store or open_store()
    report = maintenance.prune(store, older_than_s=older_than_s, actor=actor or os_user(), source=source,
                               dry_run=dry_run).as_dict()
    # files no row records are not prune's to delete (it deletes recorded files): counted, and
    # left to `mlplat runs cleanup`
    report["orphaned_files"] = sum(len(paths) for paths in maintenance.orphans(store).values())
    return report


def remove_orphans(*, dry_run: bool = False, actor: str | None = None, source: str = "cli", store=None) -> dict:
    """Delete the unrecorded files crashed and failed runs left in their folders (audited)."""
    return maintenance.remove_orphans(store or open_store(), actor=actor or os_user(), source=source,
                                      dry_run=dry_run)


__all__ = ["store_stats", "prune", "remove_orphans"]
