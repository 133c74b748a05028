"""mlplat's default grid sweeper: Hydra's BasicSweeper minus the duplicate composition.

BasicSweeper composes every job's config once to validate the batch and again to run it.
`mlplat train` already checked every value of every swept key before Hydra started
(mlplat.ops.runs.check_train_overrides sets MLPLAT_PRECHECKED), so the first composition
is skipped then; the saving is a full Hydra composition per job, which is most of the
per-job overhead on short fits. Anything else (plain `python -m ...` use) validates as usual.
"""
