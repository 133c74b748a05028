"""The version a service serves: loaded verified, swapped atomically when the alias moves.

A request reads ``holder.current`` once and uses that immutable ``Loaded`` to the end, so a
switch (one reference assignment, atomic under the GIL) never mixes versions or fails a
request. The poller loads the new version completely (sha256 check, unpickle, a fitted estimator
with the signature's inputs: check_servable) before swapping; if that fails the old version keeps serving and the error is
shown on ``GET /v1/models/{name}`` and counted in /metrics.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from mlplat.errors import MlplatError, ServingError
from mlplat.registry import aliases, versions
from mlplat.serving.fastpath import compile_pipeline
from mlplat.serving.signature import DEFAULT_MAX_ABS_VALUE, DEFAULT_MAX_STRING_CHARS, Rows, Spec
from mlplat.tracking.artifacts import load_pickle_verified

log = logging.getLogger("mlplat.serving")


@dataclass(frozen=True)
class Loaded:
    name: str
    version: int
    model: Any
    spec: Spec
    signature: dict[str, Any]
    classes: list[Any] | None
    run_id: str
    sha256: str
    loaded_at: float
    fast: Any = None  # the pipeline compiled for serving (serving/fastpath.py), when it proved equal

    def predict(self, X) -> tuple[list[Any], list[list[float]] | None]:
        """Labels (or values) and, for classifiers, class probabilities, in one pass over the pipeline."""
        labels, proba = self.predict_arrays(X)
        return labels.tolist(), None if proba is None else proba.tolist()

    def predict_arrays(self, X) -> tuple[np.ndarray, np.ndarray | None]:
        """``predict`` as numpy arrays (batch files: no Python object per value)."""
        if self.classes is not None and hasattr(self.model, "predict_proba"):
            proba = np.asarray(self._call("predict_proba", X))
            return np.asarray(self.model.classes_)[proba.argmax(axis=1)], proba
        return np.asarray(self._call("predict", X)), None

    def _call(self, method: str, X):
        """The compiled pipeline when there is one; the pipeline itself for anything the compiled
        form cannot take, so it never fails a request the pipeline would answer."""
        if self.fast is not None:
            try:
                return getattr(self.fast, method)(X)
            except Exception:  # noqa: BLE001 - e.g. a value type the probes did not cover
                log.debug("%s:%s: compiled pipeline refused the input; using the pipeline", self.name, self.version)
        return getattr(self.model, method)(X.frame if isinstance(X, Rows) else X)


def check_servable(model: Any, signature: dict[str, Any], what: str) -> None:
    """Refuse an object that is not a fitted estimator taking the signature's inputs.

    The sha256 proves the file is the one recorded, not that what was recorded is a model
    (a digest can be updated with the file): without this a swapped object is "ready" and
    every request fails. Checked after unpickling, before the version is served.
    """
    kind = type(model).__name__
    if not (hasattr(model, "predict") and hasattr(model, "fit") and hasattr(model, "get_params")):
        raise ServingError(f"{what}: the artifact holds a {kind}, not a scikit-learn compatible estimator "
                           "(no fit/predict/get_params); re-register a run's model")
    try:
        check_is_fitted(model)
    except (NotFittedError, TypeError) as exc:
        raise ServingError(f"{what}: the artifact's {kind} is not fitted ({str(exc).splitlines()[0][:120]}); "
                           "re-register a finished run") from None
    names = [str(f["name"]) for f in signature.get("inputs") or []]
    seen = getattr(model, "feature_names_in_", None)
    if seen is not None and [str(c) for c in seen] != names:
        raise ServingError(f"{what}: the model was fitted on columns {[str(c) for c in seen][:8]} but the signature "
                           f"declares {names[:8]}; the artifact does not belong to this version")
    classes = (signature.get("output") or {}).get("classes")
    if classes is not None:
        got = getattr(model, "classes_", None)
        if got is None or not hasattr(model, "predict_proba"):
            raise ServingError(f"{what}: the signature is a classifier's (classes {classes}) but the artifact's "
                               f"{kind} has no classes_/predict_proba")
        got = [v.item() if hasattr(v, "item") else v for v in got]
        if [str(v) for v in got] != [str(v) for v in classes]:
            raise ServingError(f"{what}: the model's classes {got} differ from the signature's {classes}")


def load_version(store, name: str, version: int, *, max_string_chars: int = DEFAULT_MAX_STRING_CHARS,
                 max_abs_value: float = DEFAULT_MAX_ABS_VALUE) -> Loaded:
    """Read the version row, verify the model artifact's sha256, unpickle it, check it is servable."""
    with store.read() as conn:
        row = versions.resolve(conn, versions.Ref(name, version=version))
    model = load_pickle_verified(row["model_path"], row["model_sha256"])
    signature = row["signature"]
    check_servable(model, signature, f"{name}:{version}")
    classes = (signature.get("output") or {}).get("classes")
    spec = Spec.from_signature(signature, max_string_chars=max_string_chars, max_abs_value=max_abs_value)
    return Loaded(name, version, model, spec, signature, classes, row["run_id"],
                  row["model_sha256"], time.time(), fast=compile_pipeline(model))


@dataclass
class Holder:
    store: Any
    name: str
    alias: str
    current: Loaded | None = None
    error: str | None = None
    _failed: tuple[int, float] | None = field(default=None, repr=False)
    on_load_failure: Any = None  # callable(name) for the metrics counter
    limits: dict[str, Any] = field(default_factory=dict)  # load_version's max_string_chars / max_abs_value
    retry_failed_s: float = 10.0  # a refused version is retried this often (it may be restored)

    def target_version(self) -> int | None:
        with self.store.read() as conn:
            return aliases.current(conn, self.name, self.alias)

    def refresh(self) -> bool:
        """Follow the alias once; True when the served version changed."""
        try:
            want = self.target_version()
        except MlplatError as exc:  # store briefly unreachable: keep serving what we have
            self.error = str(exc)
            return False
        if want is None:
            self.error = f"{self.name}@{self.alias} is not set; promote a version to it"
            return False
        if self.current is not None and self.current.version == want:
            return False
        if self._failed and self._failed[0] == want and time.time() - self._failed[1] < self.retry_failed_s:
            return False
        try:
            loaded = load_version(self.store, self.name, want, **self.limits)
        except Exception as exc:  # any load failure must leave the last good version serving
            self._failed = (want, time.time())
            self.error = f"version {want} not loaded: {exc}"
            log.error("%s@%s: %s", self.name, self.alias, self.error)
            if self.on_load_failure:
                self.on_load_failure(self.name)
            return False
        previous = self.current.version if self.current else None
        self.current = loaded
        self.error = None
        self._failed = None
        log.warning("%s@%s now serves version %s (was %s)", self.name, self.alias, want, previous)
        return True


class Poller(threading.Thread):
    """Refresh every holder every ``interval`` seconds until stopped."""
    def __init__(self, holders: list[Holder], interval: float):
        super().__init__(name="mlplat-alias-poller", daemon=True)
        self.holders, self.interval = holders, interval
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.wait(self.interval):
            for h in self.holders:
                h.refresh()

    def stop(self) -> None:
        self._stop_event.set()
