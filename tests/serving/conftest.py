from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "registry"))

from kit import fresh_store, train_churn  # noqa: E402


@pytest.fixture(scope="session")
def trained(tmp_path_factory) -> dict:
    return train_churn(tmp_path_factory.getbasetemp() / "churn_runs")


@pytest.fixture
def store(tmp_path, trained):
    return fresh_store(tmp_path, trained)[0]


@pytest.fixture
def s3_bucket(s3, monkeypatch):
    """A fresh bucket on the session's moto server (tests/conftest.py ``s3``): (s3://<bucket>, endpoint),
    with this process's AWS variables pointing at it."""
    from tests.s3_kit import use_in_process

    use_in_process(s3, monkeypatch)
    return f"s3://{s3.make_bucket('mlplat')}", s3.endpoint
