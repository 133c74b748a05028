"""Load a declared dataset into a pandas DataFrame, whatever its source.

One loader per ``source`` value, looked up in ``LOADERS``; every failure to read is turned
into a ``DataSourceError`` that names the dataset, the location and the fix.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

from mlplat.errors import ConfigError, DataFileMissing, DataSourceError
from mlplat.project import data_base

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
    import sklearn.datasets  # here: at the top, every CSV/Parquet/SQL command paid its import (docs/architecture.md)

    bunch = getattr(sklearn.datasets, loader)(as_frame=True)
    return bunch.frame.copy()  # the target column is named "target"


def project_root() -> Path:
    """Where relative dataset paths start (mlplat.project.data_base): the project's root, so
    a dataset is found from any subdirectory."""
    return data_base()


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
        raise DataFileMissing(
            f"dataset {cfg['name']!r}: file {cfg['path']!r} not found (looked at {path}); "
            f"fix dataset.path in conf/dataset/{cfg['name']}.yaml (relative paths start at {project_root()})"
        )
    return path


def _load_csv(cfg: Any) -> pd.DataFrame:
    path = _local_path(cfg)
    options = dict(cfg.get("read_options") or {})
    try:
        df = pd.read_csv(path, **options)
        if options.get("header", "infer") == "infer" and "names" not in options:
            # pandas renames a repeated header "x, x" to "x, x.1"; keep the file's own names so the
            # schema check refuses the duplicates instead of training on a made-up column
            header = pd.read_csv(path, header=None, nrows=1, dtype=str, keep_default_na=False,
                                 **{k: v for k, v in options.items() if k in ("sep", "delimiter", "encoding",
                                                                              "quotechar", "skiprows")})
            names = [str(v) for v in header.iloc[0].tolist()] if len(header) else []
            if len(names) == df.shape[1] and len(set(names)) < len(names):
                df.columns = names
        return df
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DataSourceError(f"dataset {cfg['name']!r}: cannot parse CSV {str(path)!r}: {exc}") from exc


def _load_parquet(cfg: Any) -> pd.DataFrame:
    path = _local_path(cfg)
    try:
        return pd.read_parquet(path, **dict(cfg.get("read_options") or {}))
    except Exception as exc:  # pyarrow raises several unrelated types for a bad file
        raise DataSourceError(f"dataset {cfg['name']!r}: cannot read Parquet {str(path)!r}: {exc}") from exc


def _sql_url(cfg: Any) -> tuple[Any, str]:
    """(URL to connect with, the same URL as text with any password hidden, for messages)."""
    import sqlalchemy as sa

    text = resolve_sqlite_url(_need(cfg, "url"))
    try:
        url = sa.make_url(text)
    except sa.exc.ArgumentError as exc:
        raise DataSourceError(f"dataset {cfg['name']!r}: malformed SQL URL {_hide_password(text)!r}: {exc}") from exc
    var = cfg.get("password_env")
    if var:
        password = os.environ.get(str(var))
        if password is None:
            raise DataSourceError(f"dataset {cfg['name']!r}: the database password is read from the environment "
                                  f"variable {var} (dataset.password_env), which is not set: export it")
        url = url.set(password=password)
    return url, url.render_as_string(hide_password=True)


def _hide_password(text: str) -> str:
    return re.sub(r"(://[^:/@]*:)[^/]*@", r"\1***@", text)


def _load_sql(cfg: Any) -> pd.DataFrame:
    query = _need(cfg, "query")
    connect_url, url = _sql_url(cfg)
    try:
        engine = sa.create_engine(connect_url)
    except (sa.exc.ArgumentError, ImportError) as exc:
        raise DataSourceError(f"dataset {cfg['name']!r}: malformed SQL URL {url!r}: {exc}") from exc
    if url.startswith("sqlite:///") and not url.endswith(":memory:"):
        db = Path(url.removeprefix("sqlite:///").split("?", 1)[0])
        if not db.is_file():  # SQLite would silently create an empty database
            raise DataFileMissing(f"dataset {cfg['name']!r}: SQLite file {str(db)!r} not found; fix dataset.url")
    try:
        with engine.connect() as con:
            return pd.read_sql_query(sa.text(query), con)
    except (sa.exc.SQLAlchemyError, pd.errors.DatabaseError) as exc:
        # pandas 3 wraps the driver's error in its own DatabaseError: report the driver's first line
        cause = exc.__cause__ if isinstance(exc, pd.errors.DatabaseError) and exc.__cause__ else exc
        reason = _hide_password(str(getattr(cause, "orig", cause)).splitlines()[0])
        raise DataSourceError(f"dataset {cfg['name']!r}: SQL query failed on {url!r}: {reason}") from exc
    finally:
        engine.dispose()


def _load_synthetic(cfg: Any) -> pd.DataFrame:
    gen = _need(cfg, "generator")
    if gen not in GENERATORS:
        raise ConfigError(f"dataset.generator={gen!r} is unknown: expected one of {', '.join(GENERATORS)}")
    params = dict(cfg.get("generator_params") or {})
    import sklearn.datasets  # see _load_sklearn

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
    """The dataset declared by ``cfg`` (a dict-like dataset config) as a DataFrame, with its
    ``filter``, ``select`` and ``target_missing`` applied."""
    source = str(cfg["source"])
    return apply_rows(LOADERS[source](cfg), cfg)


# -- rows and columns ------------------------------------------------------------------
# what a `filter:` may hold: comparisons and boolean logic over columns and constants, plus
# the null tests. df.query evaluates attribute access and calls on live objects, so anything
# else (dunders, arbitrary methods, @variables) is refused before pandas sees it.
_FILTER_NODES = ("Expression", "Compare", "BoolOp", "BinOp", "UnaryOp", "Name", "Constant", "List", "Tuple",
                 "Load", "And", "Or", "Not", "Invert", "USub", "UAdd", "Eq", "NotEq", "Lt", "LtE", "Gt", "GtE",
                 "In", "NotIn", "Add", "Sub", "Mult", "Div", "Mod", "FloorDiv", "Pow", "BitAnd", "BitOr")
_FILTER_CALLS = ("isna", "notna", "isnull", "notnull")
MAX_FILTER_CHARS = 2000


def dataset_file(cfg: Any) -> str:
    """The config file a dataset comes from, for messages."""
    from mlplat.config.compose import find_config

    found = find_config(f"dataset/{cfg['name']}.yaml")
    return str(found) if found is not None else f"conf/dataset/{cfg['name']}.yaml"


def filter_columns(cfg: Any) -> list[str]:
    """The column names a dataset's ``filter`` reads; ConfigError when the expression is not allowed."""
    import ast
    import re

    expr = cfg.get("filter")
    if not expr:
        return []
    where = f"dataset {cfg['name']!r} ({dataset_file(cfg)}): filter {expr!r}"
    if len(expr) > MAX_FILTER_CHARS:
        raise ConfigError(f"{where[:200]}...: longer than {MAX_FILTER_CHARS} characters")
    quoted: dict[str, str] = {}

    def _placeholder(m: re.Match) -> str:  # `a column` (pandas' backticks) -> a plain name
        name = f"__mlplat_q{len(quoted)}"
        quoted[name] = m.group(1)
        return name

    try:
        tree = ast.parse(re.sub(r"`([^`]*)`", _placeholder, expr), mode="eval")
    except SyntaxError as exc:
        raise ConfigError(f"{where} is not a valid expression ({exc.msg} at character {exc.offset}); "
                          "write a pandas query such as \"age >= 18 and country == 'DE'\"") from None
    names: list[str] = []
    for node in ast.walk(tree):
        kind = type(node).__name__
        if kind == "Call":
            func = node.func
            if not (isinstance(func, ast.Attribute) and func.attr in _FILTER_CALLS and isinstance(func.value, ast.Name)
                    and not node.args and not node.keywords):
                raise ConfigError(f"{where}: only comparisons, and/or/not, arithmetic and "
                                  f"column.{'()/'.join(_FILTER_CALLS)}() are allowed")
        elif kind == "Attribute":
            if node.attr not in _FILTER_CALLS:
                raise ConfigError(f"{where}: attribute {node.attr!r} is not allowed; only "
                                  f"column.{'()/'.join(_FILTER_CALLS)}()")
        elif kind == "Name":
            if node.id.startswith("__") and node.id not in quoted:
                raise ConfigError(f"{where}: name {node.id!r} is not allowed")
            names.append(quoted.get(node.id, node.id))
        elif kind not in _FILTER_NODES:
            raise ConfigError(f"{where}: {kind} is not allowed; only comparisons, and/or/not and arithmetic "
                              "over columns and constants")
    return [n for n in names if n not in ("True", "False", "None")]


def _check_columns(cfg: Any, columns: list[str]) -> None:
    where = f"dataset {cfg['name']!r} ({dataset_file(cfg)})"
    for name in filter_columns(cfg):
        if name not in columns:
            raise ConfigError(f"{where}: filter {cfg['filter']!r} names column {name!r}, which the data does "
                              f"not have (columns: {', '.join(map(str, columns[:30]))})")
    for name in cfg.get("select") or []:
        if name not in columns:
            raise ConfigError(f"{where}: select names column {name!r}, which the data does not have "
                              f"(columns: {', '.join(map(str, columns[:30]))})")


def header(cfg: Any) -> list[str] | None:
    """The column names of a file dataset, read without loading its rows (None for other sources)."""
    source = str(cfg["source"])
    if source not in ("csv", "parquet"):
        return None
    path = _local_path(cfg)
    try:
        if source == "csv":
            return [str(c) for c in pd.read_csv(path, nrows=0, **dict(cfg.get("read_options") or {})).columns]
        import pyarrow.parquet as pq

        return list(pq.read_schema(path).names)
    except Exception:  # an unreadable file is reported, with its reason, when the run loads it
        return None


def check_rows(cfg: Any) -> None:
    """Composition-time check of ``filter`` and ``select``: the expression, and (file sources)
    the column names against the file's header."""
    filter_columns(cfg)
    columns = header(cfg)
    if columns is not None:
        _check_columns(cfg, columns)


def apply_rows(df: pd.DataFrame, cfg: Any) -> pd.DataFrame:
    """``filter`` (rows), ``select`` (columns) and ``target_missing`` applied to a loaded frame."""
    if cfg.get("filter"):
        _check_columns(cfg, [str(c) for c in df.columns])
        try:
            df = df.query(cfg["filter"], engine="python", local_dict={}, global_dict={})
        except Exception as exc:  # a type mismatch in the data (e.g. text compared with a number)
            raise DataSourceError(f"dataset {cfg['name']!r} ({dataset_file(cfg)}): filter {cfg['filter']!r} "
                                  f"failed on the data: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}") from exc
    if cfg.get("select"):
        _check_columns(cfg, [str(c) for c in df.columns])
        keep = list(dict.fromkeys([*cfg["select"], cfg["target"], *([cfg["id_column"]] if cfg.get("id_column") else [])]))
        df = df[[c for c in keep if c in df.columns]]
    drop_missing = str(getattr(cfg.get("target_missing"), "value", cfg.get("target_missing"))) == "drop"
    if drop_missing and cfg["target"] in df.columns:
        df = df[df[cfg["target"]].notna()]
    return df.reset_index(drop=True) if (cfg.get("filter") or drop_missing) else df


FILE_SUFFIXES = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}


def read_file(path: str | Path, role: str = "input", read_options: dict | None = None) -> pd.DataFrame:
    """A CSV or Parquet file as a DataFrame; one clear line when it is missing, empty or unreadable."""
    p = Path(path)
    kind = FILE_SUFFIXES.get(p.suffix.lower())
    if kind is None:
        raise DataSourceError(f"{role} file {str(p)!r} has suffix {p.suffix or '(none)'!r}: expected .csv or .parquet")
    if not p.is_file():
        raise DataSourceError(f"{role} file {str(p)!r} not found; check the path")
    if p.stat().st_size == 0:
        raise DataSourceError(f"{role} file {str(p)!r} is empty (0 bytes): nothing to read")
    try:
        if kind == "csv":
            df = pd.read_csv(p, **dict(read_options or {}))
        else:
            df = pd.read_parquet(p, **dict(read_options or {}))
    except pd.errors.EmptyDataError:
        raise DataSourceError(f"{role} file {str(p)!r} has no columns (no header line): nothing to read") from None
    except Exception as exc:  # pandas/pyarrow raise many unrelated types for a bad file
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataSourceError(f"{role} file {str(p)!r} is not readable as {kind}: {first}") from exc
    if df.shape[1] == 0:
        raise DataSourceError(f"{role} file {str(p)!r} has no columns: nothing to read")
    return df
