"""mlplat's parallel local launcher: hydra-joblib-launcher with configs composed up front.

hydra-joblib-launcher ships Hydra's whole context to each loky worker and composes the job's
config there (~0.2 s of a worker's time per job, plus pickling the ConfigStore). This
launcher composes every job's config in the main process with the same cache as the
mlplat_basic launcher (once per group choice) and ships the finished config, so a worker
goes from one trial to the next without Hydra work. Same `hydra.launcher.*` keys as joblib.
"""
