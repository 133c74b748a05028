"""Structured-config schemas for every config group.

Registered in Hydra's ConfigStore as ``mlplat_schema`` and put first in ``conf/mlplat.yaml``'s
defaults list, so every YAML file and command-line override is merged *into* a typed node:
a typo in a key, a wrong type or an unknown enum value fails at composition, before any
work starts, with OmegaConf naming the full key. Allowed values live in the Enums below and
in ``mlplat.evaluation.metrics.METRICS``: declared once, checked and reported from there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING


class Task(str, Enum):
    classification = "classification"
    regression = "regression"


class Source(str, Enum):
    sklearn = "sklearn"
    csv = "csv"
    parquet = "parquet"
    sql = "sql"
    synthetic = "synthetic"


class TargetMissing(str, Enum):
    error = "error"
    drop = "drop"


class ColumnType(str, Enum):
    numeric = "numeric"
    integer = "integer"
    category = "category"
    string = "string"
    bool = "bool"


class Imputation(str, Enum):
    none = "none"
    mean = "mean"
    median = "median"
    most_frequent = "most_frequent"
    constant = "constant"


class Scaling(str, Enum):
    none = "none"
    standard = "standard"
    minmax = "minmax"
    robust = "robust"


class Encoding(str, Enum):
    onehot = "onehot"
    ordinal = "ordinal"


class Selection(str, Enum):
    none = "none"
    kbest = "kbest"
    model = "model"


@dataclass
class ColumnSchema:
    """What one column must look like; checked on every load."""
    dtype: ColumnType | None = None
    required: bool = True
    max_null_share: float = 0.0
    min: float | None = None
    max: float | None = None
    allowed: list[str] | None = None


@dataclass
class DatasetConfig:
    name: str = MISSING
    source: Source = MISSING
    task: Task = MISSING
    target: str = MISSING
    description: str = ""
    # source-specific locations; which one is needed depends on `source`
    loader: str | None = None  # sklearn: e.g. load_breast_cancer
    path: str | None = None  # csv / parquet: relative to the working directory
    url: str | None = None  # sql: a SQLAlchemy URL
    password_env: str | None = None  # sql: the environment variable holding url's password (never in a file)
    query: str | None = None  # sql: a SELECT
    generator: str | None = None  # synthetic: make_classification | make_regression
    generator_params: dict[str, Any] = field(default_factory=dict)
    read_options: dict[str, Any] = field(default_factory=dict)
    # column roles: numeric null = every non-categorical, non-dropped feature column
    id_column: str | None = None
    numeric: list[str] | None = None
    categorical: list[str] = field(default_factory=list)
    drop: list[str] = field(default_factory=list)
    # rows and columns taken from the source, in this order: `filter` (a pandas query over the
    # loaded columns, checked at composition), `select` (the columns kept; null: all), then
    # rows whose target is missing fail the run (error) or are dropped (drop)
    filter: str | None = None
    select: list[str] | None = None
    target_missing: TargetMissing = TargetMissing.error
    min_rows: int = 10
    columns: dict[str, ColumnSchema] = field(default_factory=dict)


@dataclass
class NumericSteps:
    impute: Imputation = Imputation.median
    scale: Scaling = Scaling.standard


@dataclass
class CategoricalSteps:
    impute: Imputation = Imputation.most_frequent
    encode: Encoding = Encoding.onehot
    min_frequency: float | None = None
    max_categories: int | None = None


@dataclass
class SelectionConfig:
    method: Selection = Selection.none
    k: int = 10  # kbest: number of features kept
    threshold: str = "median"  # model: SelectFromModel threshold
    estimator: str = "random_forest"  # model: random_forest | l1


@dataclass
class FeaturesConfig:
    name: str = MISSING
    numeric: NumericSteps = field(default_factory=NumericSteps)
    categorical: CategoricalSteps = field(default_factory=CategoricalSteps)
    # new column name -> pandas expression over the raw columns, e.g. "income / (age + 1)"
    derived: dict[str, str] = field(default_factory=dict)
    selection: SelectionConfig = field(default_factory=SelectionConfig)


@dataclass
class ModelConfig:
    name: str = MISSING
    # import paths of the estimator per task; the module must be in runtime.allowed_modules
    classifier: str | None = None
    regressor: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    classifier_params: dict[str, Any] = field(default_factory=dict)
    regressor_params: dict[str, Any] = field(default_factory=dict)
    seed_param: str | None = "random_state"
    threads_param: str | None = None
    # OpenMP estimators (HistGradientBoosting, XGBoost): below this many training rows one
    # thread is faster than several, unless runtime.threads is set (see engine.fit_threads)
    threads_from_rows: int | None = None


@dataclass
class CVConfig:
    folds: int = 5
    shuffle: bool = True


@dataclass
class EvaluationConfig:
    cv: CVConfig = field(default_factory=CVConfig)
    test_size: float = 0.2
    metrics: list[str] | None = None  # null: every metric of the dataset's task
    primary: str = MISSING  # ranks runs and is what `mlplat train` returns to sweepers


@dataclass
class TrackingConfig:
    url: str = "sqlite:///runs/mlplat.db"
    artifacts: str = "runs/artifacts"
    # seconds a run keeps retrying a store write that finds the write lock taken (with backoff)
    lock_wait: float = 300.0


@dataclass
class RuntimeConfig:
    # threads per estimator; null = cores / parallel jobs of the launcher, so that
    # n_jobs x threads never oversubscribes the machine
    threads: int | None = None
    # modules a model's _target_ may be imported from (a project adds its own package)
    allowed_modules: list[str] = field(default_factory=lambda: ["sklearn", "xgboost", "lightgbm", "catboost",
                                                                "mlplat"])


@dataclass
class GatesConfig:
    run_completed: bool = True
    validation_passed: bool = True
    thresholds: dict[str, float] = field(default_factory=dict)  # metric -> floor (scores) / ceiling (losses)
    stage: str = "holdout"  # holdout | cv: which recorded metrics the gates read
    beat_champion: Any = None  # {metric, margin, on_not_comparable}; checked in mlplat.registry.policy


@dataclass
class TargetPolicyConfig:
    requester_roles: list[str] = field(default_factory=lambda: ["*"])
    approvals: int = 1
    approver_roles: list[str] = field(default_factory=list)
    expiry_hours: float = 72.0
    gates: GatesConfig = field(default_factory=GatesConfig)


@dataclass
class AutoRegisterConfig:
    enabled: bool = False
    name: str | None = None


@dataclass
class RegistryConfig:
    roles: dict[str, list[str]] = field(default_factory=dict)
    targets: dict[str, TargetPolicyConfig] = field(default_factory=dict)
    rollback_roles: list[str] = field(default_factory=list)
    auto_register: AutoRegisterConfig = field(default_factory=AutoRegisterConfig)


@dataclass
class PredictionLogConfig:
    enabled: bool = True
    dir: str = "runs/predictions"
    queue_size: int = 100000
    flush_interval_s: float = 0.25  # a SIGKILLed service loses at most the rows of this interval (+ one write)
    batch_rows: int = 5000
    storage_options: dict[str, Any] = field(default_factory=dict)  # fsspec options of an s3://... dir


@dataclass
class BatchConfig:
    chunk_rows: int = 10000


@dataclass
class ServingConfig:
    host: str = "127.0.0.1"
    port: int = 8000
    alias: str = "production"
    poll_interval_s: float = 1.0
    # None: derived per model from max_rows and the signature (max_rows records of the longest
    # values the schema allows always fit); a number fixes it for every model
    max_body_bytes: int | None = None
    max_rows: int = 10000
    max_string_chars: int = 256  # a longer string value is a schema violation
    max_abs_value: float = 1.0e15  # a number beyond +-this, where the dataset declares no min/max, is one too
    schema_violations: str = "reject"  # reject (422) or accept (served, flagged, counted)
    schema_violations_by_model: dict[str, str] = field(default_factory=dict)  # per model name
    micro_batch_rows: int = 2000  # requests waiting together are predicted in one call; 0: one call each
    slo_p99_ms: float = 10.0
    workers: int = 1  # service processes behind the one port (`mlplat serve --workers N`)
    metrics_dir: str = "runs/serving/metrics"  # <dir>/<port>/: the workers' Prometheus files
    prediction_log: PredictionLogConfig = field(default_factory=PredictionLogConfig)
    batch: BatchConfig = field(default_factory=BatchConfig)


@dataclass
class UiConfig:
    host: str = "127.0.0.1"
    port: int = 5100
    auth_header: str | None = None  # header an authenticating proxy sets; None: read-only
    trusted_proxies: list[str] = field(default_factory=lambda: ["127.0.0.1", "::1"])
    page_size: int = 50
    refresh_s: float = 2.0


@dataclass
class MlplatConfig:
    dataset: DatasetConfig = MISSING
    features: FeaturesConfig = MISSING
    model: ModelConfig = MISSING
    evaluation: EvaluationConfig = MISSING
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    runtime: RuntimeConfig = field(default_factory=RuntimeConfig)
    name: str = "default"  # the experiment this run belongs to
    seed: int = 42
    tags: dict[str, str] = field(default_factory=dict)
    # groups owned by later layers; each validates its own node
    registry: RegistryConfig = field(default_factory=RegistryConfig)
    serving: ServingConfig = field(default_factory=ServingConfig)
    ui: UiConfig = field(default_factory=UiConfig)
    monitor: Any = None
    bot: Any = None
    access: Any = None  # checked in mlplat.ops.access
    schedule: Any = None
    governance: Any = None
    ci: Any = None


def register_schemas() -> None:
    """Put the schema in Hydra's ConfigStore (idempotent)."""
    ConfigStore.instance().store(name="mlplat_schema", node=MlplatConfig)
