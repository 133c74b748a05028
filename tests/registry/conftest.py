from __future__ import annotations

import pytest
from kit import fresh_store, train_churn


@pytest.fixture(scope="session")
def trained(tmp_path_factory) -> dict:
    return train_churn(tmp_path_factory.getbasetemp() / "churn_runs")


@pytest.fixture
def store(tmp_path, trained):
    return fresh_store(tmp_path, trained)[0]


@pytest.fixture
def store_url(tmp_path, trained) -> str:
    return fresh_store(tmp_path, trained)[1]
