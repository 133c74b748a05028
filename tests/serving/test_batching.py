"""Micro-batching: every request gets exactly its own rows' predictions, whatever batch it joined."""

from __future__ import annotations

import asyncio

import pandas as pd
import pytest

from mlplat.serving.batching import MicroBatcher


class Doubler:
    """A stand-in for a loaded version: records each call's size, refuses negative inputs."""

    def __init__(self) -> None:
        self.calls: list[int] = []

    def predict(self, X: pd.DataFrame):
        self.calls.append(len(X))
        if (X["x"] < 0).any():
            raise ValueError("x must be >= 0")
        return (X["x"] * 2).tolist(), [[v / 100, 1 - v / 100] for v in X["x"]]


def _frames(n: int) -> list[pd.DataFrame]:
    return [pd.DataFrame({"x": [10 * i + j for j in range(1 + i % 3)]}) for i in range(n)]


async def _all(batcher: MicroBatcher, pairs) -> list:
    return await asyncio.gather(*(batcher.predict(m, X) for m, X in pairs), return_exceptions=True)


def test_waiting_requests_share_calls_and_each_gets_its_own_rows():
    model, frames = Doubler(), _frames(30)
    batcher = MicroBatcher(max_rows=1000)
    results = asyncio.run(_all(batcher, [(model, X) for X in frames]))
    for X, (preds, proba) in zip(frames, results, strict=True):
        assert preds == (X["x"] * 2).tolist()
        assert proba == [[v / 100, 1 - v / 100] for v in X["x"]]
    assert len(model.calls) < 30 and sum(model.calls) == sum(len(X) for X in frames)
    assert (batcher.requests, batcher.batches) == (30, len(model.calls))


def test_a_refused_input_fails_only_its_own_request():
    model, frames = Doubler(), _frames(12)
    frames[5] = pd.DataFrame({"x": [3, -1]})
    results = asyncio.run(_all(MicroBatcher(max_rows=1000), [(model, X) for X in frames]))
    assert isinstance(results[5], ValueError)
    for i, X in enumerate(frames):
        if i != 5:
            assert results[i][0] == (X["x"] * 2).tolist()


def test_batches_respect_max_rows_and_never_mix_versions():
    a, b = Doubler(), Doubler()
    frames = _frames(20)
    pairs = [(a if i % 2 else b, X) for i, X in enumerate(frames)]
    results = asyncio.run(_all(MicroBatcher(max_rows=4), pairs))
    assert all(n <= 4 for n in a.calls + b.calls)
    for (_m, X), (preds, _p) in zip(pairs, results, strict=True):
        assert preds == (X["x"] * 2).tolist()
    assert sum(a.calls) == sum(len(X) for m, X in pairs if m is a)


def test_a_request_alone_is_predicted_at_once():
    model = Doubler()
    preds, _ = asyncio.run(MicroBatcher().predict(model, pd.DataFrame({"x": [4]})))
    assert preds == [8] and model.calls == [1]


def test_a_negative_batch_size_is_refused_in_one_line():
    from mlplat.errors import ServingError
    from mlplat.serving.app import create_app

    with pytest.raises(ServingError, match="micro_batch_rows must be >= 0"):
        create_app(None, ["churn"], micro_batch_rows=-1)
