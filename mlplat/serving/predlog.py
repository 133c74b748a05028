"""The prediction log: every served prediction, written off the request path as Parquet.

Layout (read by monitoring through ``read_prediction_log``)::

    <serving.prediction_log.dir>/<model>/part-<first ts ms>-<last ts ms>-<uuid>.parquet

one row per predicted row with columns ``ts`` (epoch seconds), ``request_id``, ``row``
(index within the request), ``model``, ``version``, ``latency_ms`` (whole request),
``input.<feature>`` for every input, ``prediction`` and, for classifiers,
``proba.<class>``. Files appear atomically (temp name, then rename), and the time range
in the name lets a reader skip files older than ``since`` without opening them.

Requests put one item on an in-memory deque and return; a writer thread flushes every
``flush_interval_s`` or ``batch_rows``. Memory is bounded: past ``queue_size`` pending
rows new items are dropped and counted (``dropped``), never blocking a request.
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

import numpy as np
import pandas as pd

log = logging.getLogger("mlplat.serving.predlog")


class PredictionLog:
    def __init__(self, root: str | Path, *, queue_size: int = 100000, flush_interval_s: float = 1.0,
                 batch_rows: int = 5000):
        self.root = Path(root)
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
        by_model: dict[str, list] = collections.defaultdict(list)
        for it in items:
            by_model[it[2]].append(it)
        n = 0
        for model, its in by_model.items():
            try:
                n += self._write(model, its)
            except Exception as exc:  # a full disk must not take the service down; rows are lost, say so
                self.dropped += sum(len(i[5]) for i in its)
                log.error("prediction log for %s not written: %s", model, exc)
        self.written += n
        return n

    def _write(self, model: str, items: list) -> int:
        # one frame per (input columns, classes) group, built column-wise from plain lists
        groups: dict[tuple, list] = collections.defaultdict(list)
        for it in items:
            groups[(tuple(it[5]), tuple(it[8]) if it[7] is not None and it[8] is not None else None)].append(it)
        frames = [self._group_frame(its, classes) for (_cols, classes), its in groups.items()]
        df = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
        # mixed-type object columns (a feature that is null in some rows) need one Parquet type
        for c in df.columns:
            if df[c].dtype == object:
                df[c] = df[c].astype("string")
        directory = self.root / model
        directory.mkdir(parents=True, exist_ok=True)
        first, last = int(df["ts"].min() * 1000), int(df["ts"].max() * 1000)
        final = directory / f"part-{first:013d}-{last:013d}-{uuid.uuid4().hex[:8]}.parquet"
        tmp = directory / f".{final.name}.tmp"
        df.to_parquet(tmp, index=False)
        os.replace(tmp, final)
        return len(df)

    @staticmethod
    def _group_frame(items: list, classes: tuple | None) -> pd.DataFrame:
        """The rows of requests that share input columns and classes, in arrival order."""
        counts = [len(it[6]) for it in items]
        columns: dict[str, Any] = {
            "ts": np.repeat([it[0] for it in items], counts),
            "request_id": np.repeat(np.array([it[1] for it in items], dtype=object), counts),
            "row": np.concatenate([np.arange(k) for k in counts]),
            "model": np.repeat(np.array([it[2] for it in items], dtype=object), counts),
            "version": np.repeat([it[3] for it in items], counts),
            "latency_ms": np.repeat([it[4] for it in items], counts),
        }
        for c in items[0][5]:
            # None is a missing value whatever the column's type (pandas keeps None in object columns)
            columns[f"input.{c}"] = [np.nan if v is None else v
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


def read_prediction_log(name: str, since: float | None = None, *, root: str | Path) -> pd.DataFrame:
    """Every logged prediction of model ``name`` with ``ts >= since``, oldest first (empty frame if none).

    ``root`` is serving.prediction_log.dir (``mlplat.ops.read_prediction_log`` defaults it
    from the config).
    """
    directory = Path(root) / name
    files = []
    for p in sorted(directory.glob("part-*.parquet")) if directory.is_dir() else []:
        try:
            last_ms = int(p.name.split("-")[2])
        except (IndexError, ValueError):
            continue
        if since is None or last_ms >= int(since * 1000) - 1:
            files.append(p)
    if not files:
        return pd.DataFrame(columns=["ts", "request_id", "row", "model", "version", "latency_ms", "prediction"])
    df = pd.concat([pd.read_parquet(p) for p in files], ignore_index=True)
    if since is not None:
        df = df[df["ts"] >= since]
    return df.sort_values(["ts", "request_id", "row"], kind="stable").reset_index(drop=True)


def wait_for_rows(name: str, n: int, *, root: str | Path, timeout: float = 10.0) -> pd.DataFrame:
    """Poll until at least ``n`` rows are logged (for tests and the benchmark)."""
    deadline = time.time() + timeout
    while True:
        df = read_prediction_log(name, root=root)
        if len(df) >= n or time.time() > deadline:
            return df
        time.sleep(0.1)
