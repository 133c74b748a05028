from __future__ import annotations

import pytest
from gov_kit import train_with_failure


@pytest.fixture(scope="session")
def trained(tmp_path_factory) -> dict:
    return train_with_failure(tmp_path_factory.getbasetemp() / "governance_runs")
