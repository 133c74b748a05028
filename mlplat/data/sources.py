"""Load a declared dataset into a pandas DataFrame, whatever its source.

One loader per ``source`` value, looked up in ``LOADERS``; every failure to read is turned
into a ``DataSourceError`` that names the dataset, the location and the fix.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sklearn.datasets
import sqlalchemy as sa

from mlplat.config.compose import conf_dir
from mlplat.errors import ConfigError, DataSourceError

SKLEARN_LOADERS = ("load_breast_cancer", "load_wine", "load_diabetes", "load_iris", "load_digits")
GENERATORS = ("make_classification", "make_regression")


def _need(cfg: Any, key: str) -> Any:
    value = cfg.get(key)
    if value in (None, ""):
        raise ConfigError(
            f"dataset {cfg['name']!r} (source={cfg['source']}) needs 'dataset.{key}': "
            f"set it in conf/dataset/{cfg['name']}.yaml"
        )
    return value


def _load_sklearn(cfg: Any) -> pd.DataFrame:
    loader = _need(cfg, "loader")
    if loader not in SKLEARN_LOADERS:
        raise ConfigError(
            f"dataset.loader={loader!r} is not a bundled scikit-learn loader: "
            f"expected one of {', '.join(SKLEARN_LOADERS)}"
        )
    bunch = getattr(sklearn.datasets, loader)(as_frame=True)
    return bunch.frame.copy()  # the target column is named "target"


def project_root() -> Path:
    """The directory holding conf/: relative dataset paths are resolved against it, so a
    dataset is found wherever mlplat is started from (runs/ stays in the working directory)."""
    return conf_dir().parent


def resolve_path(path: str | Path) -> Path:
    p = Path(path)
    return p if p.is_absolute() else project_root() / p


def resolve_sqlite_url(url: str) -> str:
    """sqlite:///relative.db -> sqlite:////abs/project/relative.db (other URLs unchanged)."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and ":memory:" not in url:
        return prefix + str(resolve_path(url[len(prefix):]))
    return url


def _local_path(cfg: Any) -> Path:
    path = resolve_path(_need(cfg, "path"))
    if not path.is_file():
        raise DataSourceError(
            f"dataset {cfg['name']!r}: file {cfg['path']!r} not found (looked at {path}); "
            f"fix dataset.path in conf/dataset/{cfg['name']}.yaml (relative paths start at {project_root()})"
        )
    return path


def _load_csv(cfg: Any) -> pd.DataFrame:
    path = _local_path(cfg)
    try:
        return pd.read_csv(path, **dict(cfg.get("read_options") or {}))
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DataSourceError(f"dataset {cfg['name']!r}: cannot parse CSV {str(path)!r}: {exc}") from exc


def _load_parquet(cfg: Any) -> pd.DataFrame:
    path = _local_path(cfg)
    try:
        return pd.read_parquet(path, **dict(cfg.get("read_options") or {}))
    except Exception as exc:  # pyarrow raises several unrelated types for a bad file
        raise DataSourceError(f"dataset {cfg['name']!r}: cannot read Parquet {str(path)!r}: {exc}") from exc


def _load_sql(cfg: Any) -> pd.DataFrame:
    url, query = resolve_sqlite_url(_need(cfg, "url")), _need(cfg, "query")
    try:
        engine = sa.create_engine(url)
    except (sa.exc.ArgumentError, ImportError) as exc:
        raise DataSourceError(f"dataset {cfg['name']!r}: malformed SQL URL {url!r}: {exc}") from exc
    if url.startswith("sqlite:///") and not url.endswith(":memory:"):
        db = Path(url.removeprefix("sqlite:///"))
        if not db.is_file():  # SQLite would silently create an empty database
            raise DataSourceError(f"dataset {cfg['name']!r}: SQLite file {str(db)!r} not found; fix dataset.url")
    try:
        with engine.connect() as con:
            return pd.read_sql_query(sa.text(query), con)
    except sa.exc.SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", exc)).splitlines()[0]
        raise DataSourceError(f"dataset {cfg['name']!r}: SQL query failed on {url!r}: {reason}") from exc
    finally:
        engine.dispose()


def _load_synthetic(cfg: Any) -> pd.DataFrame:
    gen = _need(cfg, "generator")
    if gen not in GENERATORS:
        raise ConfigError(f"dataset.generator={gen!r} is unknown: expected one of {', '.join(GENERATORS)}")
    params = dict(cfg.get("generator_params") or {})
    try:
        X, y = getattr(sklearn.datasets, gen)(**params)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"dataset.generator_params for {gen}: {exc}") from exc
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])])
    frame[cfg["target"]] = np.asarray(y)
    return frame


LOADERS: dict[str, Callable[[Any], pd.DataFrame]] = {
    "sklearn": _load_sklearn,
    "csv": _load_csv,
    "parquet": _load_parquet,
    "sql": _load_sql,
    "synthetic": _load_synthetic,
}


def load(cfg: Any) -> pd.DataFrame:
    """The dataset declared by ``cfg`` (a dict-like dataset config) as a DataFrame."""
    source = str(cfg["source"])
    return LOADERS[source](cfg)
