"""The prediction log: every served prediction, written off the request path as partitioned Parquet.

Layout (hive partitions; read by monitoring through ``read_prediction_log``)::

    <serving.prediction_log.dir>/model=<name>/version=<v>/date=<YYYY-MM-DD>/part-<first ms>-<last ms>-<worker>.parquet

``dir`` is a local folder or an fsspec URL (``s3://bucket/prefix``; credentials from the
standard chain of that filesystem, options in ``serving.prediction_log.storage_options``).
Each file holds the rows of one flush of one service worker for one (model, version, UTC
date): ``ts`` (epoch seconds), ``request_id``, ``row`` (index within the request),
``latency_ms`` (whole request), ``input.<feature>`` for every input, ``prediction`` and, for
classifiers, ``proba.<class>``; ``model`` and ``version`` come from the path. ``<worker>`` is
the writing process id and a random id, so workers of one service (and of other hosts) never
write the same name. A local file appears atomically (temp name, then rename); an object
store's object appears whole when its upload completes.

A reader prunes by partition (model, version, date) and by the time range in the file name
without opening a file, then lets pyarrow.dataset push the ``ts`` window down to row groups
and read only the columns asked for. Logs of the earlier layout
(``<dir>/<model>/part-<first>-<last>-<id>.parquet``, with ``model`` and ``version`` columns)
are read alongside; nothing needs migrating.

Requests put one item on an in-memory deque and return; a writer thread flushes every
``flush_interval_s`` or ``batch_rows``. So a process killed without warning (SIGKILL, OOM
kill, power loss of the process) loses at most the rows answered in its last
``flush_interval_s`` plus the time one write takes; SIGTERM/SIGINT stop the service and
flush everything. Memory is bounded: past ``queue_size`` pending rows new items are dropped
and counted (``dropped``), never blocking a request.
"""

from __future__ import annotations

import collections
import itertools
import logging
import os
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import fsspec
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pyarrow.parquet as pq
from fsspec.implementations.local import LocalFileSystem

log = logging.getLogger("mlplat.serving.predlog")

BASE_COLUMNS = ["ts", "request_id", "row", "model", "version", "latency_ms", "prediction"]
# model and version are in the path, not the file (one value per file); date only prunes
PARTITIONING = ds.partitioning(pa.schema([("model", pa.string()), ("version", pa.int64()), ("date", pa.string())]),
                               flavor="hive")


def filesystem(root: str | Path, storage_options: dict | None = None) -> tuple[fsspec.AbstractFileSystem, str]:
    """The fsspec filesystem and the path inside it of a log root (a folder or a URL such as s3://b/p)."""
    fs, path = fsspec.core.url_to_fs(str(root), **(storage_options or {}))
    return fs, path.rstrip("/")


def _day(ts: float) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(ts))


class PredictionLog:
    def __init__(self, root: str | Path, *, queue_size: int = 100000, flush_interval_s: float = 0.25,
                 batch_rows: int = 5000, storage_options: dict | None = None):
        self.root = root
        self.fs, self.base = filesystem(root, storage_options)
        self.local = isinstance(self.fs, LocalFileSystem)
        self.queue_size, self.flush_interval_s, self.batch_rows = queue_size, flush_interval_s, batch_rows
        self._items: collections.deque = collections.deque()
        self._pending = 0
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self.dropped = 0
        self.written = 0
        self._thread = threading.Thread(target=self._run, name="mlplat-prediction-log", daemon=True)

    def start(self) -> PredictionLog:
        self._thread.start()
        return self

    def append(self, *, ts: float, request_id: str, model: str, version: int, latency_ms: float,
               inputs: pd.DataFrame | dict[str, list[Any]], predictions: list[Any],
               proba: list[list[float]] | None, classes: list[Any] | None) -> bool:
        """Queue one request's rows; False (and counted) when the queue is full.

        ``inputs``: the request's validated values, feature -> list (what the service has at
        hand, and cheap to join: the writer thread then holds the GIL ~1 ms per flush instead
        of ~8 ms concatenating frames), or a DataFrame.
        """
        if isinstance(inputs, pd.DataFrame):
            inputs = {str(c): inputs[c].tolist() for c in inputs.columns}
        n = len(predictions)
        with self._lock:
            if self._pending + n > self.queue_size:
                self.dropped += n
                return False
            self._pending += n
            self._items.append((ts, request_id, model, version, latency_ms, inputs, predictions, proba, classes))
        if self._pending >= self.batch_rows:
            self._wake.set()
        return True

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.flush_interval_s)
            self._wake.clear()
            self.flush()
        self.flush()

    def flush(self) -> int:
        with self._lock:
            items, self._items = list(self._items), collections.deque()
            self._pending = 0
        if not items:
            return 0
        by_partition: dict[tuple, list] = collections.defaultdict(list)
        for it in items:
            by_partition[(it[2], int(it[3]), _day(it[0]))].append(it)
        n = 0
        for (model, version, day), its in by_partition.items():
            try:
                n += self._write(model, version, day, its)
            except Exception as exc:  # a full disk or a store that is down must not take the service down
                self.dropped += sum(len(i[6]) for i in its)
                log.error("prediction log for %s:%s not written under %s: %s", model, version, self.root, exc)
        self.written += n
        return n

    def _write(self, model: str, version: int, day: str, items: list) -> int:
        # one frame per (input columns, classes) group, built column-wise from plain lists
        groups: dict[tuple, list] = collections.defaultdict(list)
        for it in items:
            groups[(tuple(it[5]), tuple(it[8]) if it[7] is not None and it[8] is not None else None)].append(it)
        frames = [self._group_frame(its, classes) for (_cols, classes), its in groups.items()]
        df = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
        nulls = [c for c in df.columns if c.startswith("input.") and df[c].isna().all()]
        # mixed-type object columns (a feature that is null in some rows) need one Parquet type
        for c in df.columns:
            if df[c].dtype == object:
                df[c] = df[c].astype("string")
        table = pa.Table.from_pandas(df, preserve_index=False)
        for c in nulls:  # no value to type it by: null, which a reader widens to the type other files have
            table = table.set_column(table.schema.get_field_index(c), c, pa.nulls(len(df)))
        directory = f"{self.base}/model={model}/version={version}/date={day}"
        first, last = int(df["ts"].min() * 1000), int(df["ts"].max() * 1000)
        name = f"part-{first:013d}-{last:013d}-{os.getpid()}-{uuid.uuid4().hex[:12]}.parquet"
        if self.local:
            os.makedirs(directory, exist_ok=True)
            tmp = f"{directory}/.{name}.tmp"
            pq.write_table(table, tmp)
            os.replace(tmp, f"{directory}/{name}")
        else:  # one object, visible only once its upload completes
            with self.fs.open(f"{directory}/{name}", "wb") as f:
                pq.write_table(table, f)
        return len(df)

    @staticmethod
    def _group_frame(items: list, classes: tuple | None) -> pd.DataFrame:
        """The rows of requests that share input columns and classes, in arrival order."""
        counts = [len(it[6]) for it in items]
        columns: dict[str, Any] = {
            "ts": np.repeat([it[0] for it in items], counts),
            "request_id": np.repeat(np.array([it[1] for it in items], dtype=object), counts),
            "row": np.concatenate([np.arange(k) for k in counts]),
            "latency_ms": np.repeat([it[4] for it in items], counts),
        }
        for c in items[0][5]:
            # None (and pd.NA, the missing value of pandas' nullable dtypes) is a missing value
            # whatever the column's type: kept as an object it would turn a numeric column to text
            columns[f"input.{c}"] = [np.nan if v is None or v is pd.NA else v
                                     for v in itertools.chain.from_iterable(it[5][c] for it in items)]
        columns["prediction"] = [p for it in items for p in it[6]]
        if classes is not None:
            proba = np.asarray([row for it in items for row in it[7]], dtype=float)
            columns.update({f"proba.{c}": proba[:, j] for j, c in enumerate(classes)})
        return pd.DataFrame(columns)

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)


# ----------------------------------------------------------------------------- reading
def _span(name: str) -> tuple[int, int] | None:
    """(first ms, last ms) from a part file's name; None for anything else (temp files, strays)."""
    if not name.startswith("part-") or not name.endswith(".parquet"):
        return None
    try:
        _, first, last, *_ = name.split("-")
        return int(first), int(last)
    except ValueError:
        return None


def _in_window(span: tuple[int, int] | None, since: float | None, until: float | None) -> bool:
    if span is None:
        return False
    # names hold whole milliseconds (floor): widen by one so no row at a boundary is skipped
    return (since is None or span[1] >= int(since * 1000) - 1) and (until is None or span[0] <= int(until * 1000) + 1)


def _children(fs, path: str, key: str) -> list[tuple[str, str]]:
    """(path, value) of the ``key=value`` folders directly under ``path``."""
    out = []
    for entry in fs.ls(path, detail=True):
        leaf = entry["name"].rstrip("/").rsplit("/", 1)[-1]
        if entry["type"] == "directory" and leaf.startswith(f"{key}="):
            out.append((entry["name"].rstrip("/"), leaf.split("=", 1)[1]))
    return out


def _partition_files(fs, base: str, name: str, since: float | None, until: float | None,
                     version: int | None) -> list[str]:
    """The part files of ``name`` that can hold rows in [since, until], found by listing folders only."""
    model_dir = f"{base}/model={name}"
    if not fs.isdir(model_dir):
        return []
    first_day, last_day = (_day(since) if since is not None else None), (_day(until) if until is not None else None)
    files = []
    for vdir, v in _children(fs, model_dir, "version"):
        if version is not None and v != str(version):
            continue
        for ddir, day in _children(fs, vdir, "date"):
            if (first_day and day < first_day) or (last_day and day > last_day):
                continue
            files += [p for p in fs.ls(ddir, detail=False)
                      if _in_window(_span(p.rstrip("/").rsplit("/", 1)[-1]), since, until)]
    return sorted(files)


def _arrow_fs(fs) -> pafs.FileSystem:
    return pafs.LocalFileSystem() if isinstance(fs, LocalFileSystem) else pafs.PyFileSystem(pafs.FSSpecHandler(fs))


def log_dataset(fs, base: str, files: list[str], columns: list[str] | None = None,
                categories: bool = False) -> ds.Dataset:
    # string columns read as dictionaries when asked (the compact window reader): a week of a busy
    # service holds ten million copies of a handful of category names
    fmt = ds.ParquetFileFormat(read_options=ds.ParquetReadOptions(dictionary_columns=columns or [])
                               if categories else None)
    factory = ds.FileSystemDatasetFactory(_arrow_fs(fs), files, fmt,
                                          ds.FileSystemFactoryOptions(partition_base_dir=base,
                                                                      partitioning=PARTITIONING))
    # every file's schema, widened where they differ (a null-only column, ints in one flush and floats in
    # another); only footers are read for this
    return factory.finish(factory.inspect(promote_options="permissive", fragments=None))


def window_filter(since, until, version) -> ds.Expression | None:
    where = None
    for cond in ((ds.field("ts") >= since) if since is not None else None,
                 (ds.field("ts") <= until) if until is not None else None,
                 (ds.field("version") == version) if version is not None else None):
        if cond is not None:
            where = cond if where is None else where & cond
    return where


def _read_partitioned(fs, base: str, files: list[str], since, until, version, columns) -> pd.DataFrame:
    dataset = log_dataset(fs, base, files)
    wanted = [c for c in dataset.schema.names if c != "date" and (columns is None or c in columns)]
    table = dataset.to_table(columns=wanted, filter=window_filter(since, until, version))
    # self_destruct: each column's Arrow memory is released as it is converted (peak ~1x, not 2x)
    return table.to_pandas(split_blocks=True, self_destruct=True)


def _read_legacy(fs, base: str, name: str, since, until, version, columns) -> pd.DataFrame | None:
    """Files of the earlier one-folder-per-model layout, filtered like the partitioned ones."""
    directory = f"{base}/{name}"
    if not fs.isdir(directory):
        return None
    files = sorted(p for p in fs.ls(directory, detail=False)
                   if _in_window(_span(p.rstrip("/").rsplit("/", 1)[-1]), since, until))
    if not files:
        return None
    frames = []
    for p in files:
        with fs.open(p, "rb") as f:
            frames.append(pd.read_parquet(f))
    df = pd.concat(frames, ignore_index=True)
    keep = pd.Series(True, index=df.index)
    if since is not None:
        keep &= df["ts"] >= since
    if until is not None:
        keep &= df["ts"] <= until
    if version is not None and "version" in df.columns:
        keep &= df["version"] == version
    df = df[keep]
    return df[[c for c in df.columns if c in columns]] if columns is not None else df


def files_by_version(fs, base: str, name: str, since, until, version) -> dict[str, list[str]]:
    by_version: dict[str, list[str]] = collections.defaultdict(list)
    for f in _partition_files(fs, base, name, since, until, version):
        by_version[f.rsplit("/version=", 1)[1].split("/", 1)[0]].append(f)
    return by_version


def read_prediction_log(name: str, since: float | None = None, *, root: str | Path, until: float | None = None,
                        version: int | None = None, columns: list[str] | None = None, ordered: bool = True,
                        storage_options: dict | None = None) -> pd.DataFrame:
    """Logged predictions of model ``name`` with ``since <= ts <= until`` (empty frame if none).

    ``root`` is serving.prediction_log.dir (``mlplat.ops.read_prediction_log`` defaults it
    from the config). ``version`` keeps one version (pruned by partition); ``columns`` reads
    only those (names that the log lacks are left out); ``ordered`` sorts oldest first
    (``ts``, ``request_id``, ``row``), which a caller that only aggregates can skip.
    """
    fs, base = filesystem(root, storage_options)
    frames = []
    # one dataset per version: versions may differ in inputs and output types, one version's files do not
    for files in files_by_version(fs, base, name, since, until, version).values():
        frames.append(_read_partitioned(fs, base, files, since, until, version, columns))
    legacy = _read_legacy(fs, base, name, since, until, version, columns)
    if legacy is not None and len(legacy):
        frames.append(legacy)
    if not frames:
        return pd.DataFrame(columns=[c for c in BASE_COLUMNS if columns is None or c in columns])
    df = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
    order = [c for c in ("ts", "request_id", "row") if c in df.columns]
    if ordered and order:
        df = df.sort_values(order, kind="stable")
    return df.reset_index(drop=True)


def version_counts(name: str, since: float | None = None, *, root: str | Path, until: float | None = None,
                   storage_options: dict | None = None) -> dict[int, int]:
    """Logged rows per version of ``name`` in the window.

    Counted from the Parquet footers' row counts and ``ts`` statistics wherever a row group lies
    wholly inside or outside the window (``Dataset.count_rows``), so no column is read but ``ts``
    of the row groups at the window's edges.
    """
    fs, base = filesystem(root, storage_options)
    counts: dict[int, int] = {}
    for v, files in files_by_version(fs, base, name, since, until, None).items():
        n = log_dataset(fs, base, files).count_rows(filter=window_filter(since, until, None))
        if n:
            counts[int(v)] = n
    legacy = _read_legacy(fs, base, name, since, until, None, ["version"])
    if legacy is not None and len(legacy):
        for v, k in legacy["version"].value_counts().items():
            counts[int(v)] = counts.get(int(v), 0) + int(k)
    return counts


def wait_for_rows(name: str, n: int, *, root: str | Path, timeout: float = 10.0,
                  storage_options: dict | None = None) -> pd.DataFrame:
    """Poll until at least ``n`` rows are logged (for tests and the benchmark)."""
    deadline = time.time() + timeout
    while True:
        df = read_prediction_log(name, root=root, storage_options=storage_options)
        if len(df) >= n or time.time() > deadline:
            return df
        time.sleep(0.1)
