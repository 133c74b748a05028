"""Rows and columns in a dataset config: filter (checked at composition), select, target_missing."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from mlplat.data import sources
from mlplat.errors import ConfigError
from tests.projects.kit import customers_csv, customers_project, mlplat, one_error_line


def _cfg(tmp_path, **extra):
    path = customers_csv(tmp_path / "c.csv", missing_target=4)
    return {"name": "customers", "source": "csv", "path": str(path), "target": "churned", "id_column": "customer_id",
            "read_options": {}, **extra}


def test_filter_select_and_target_missing_shape_the_loaded_frame(tmp_path):
    cfg = _cfg(tmp_path, filter="tenure >= 10 and region != 'east'", select=["tenure", "spend"], target_missing="drop")
    raw = pd.read_csv(cfg["path"])
    expected = raw[(raw.tenure >= 10) & (raw.region != "east") & raw.churned.notna()]
    df = sources.load(cfg)
    assert list(df.columns) == ["tenure", "spend", "churned", "customer_id"]
    assert len(df) == len(expected) and df["customer_id"].tolist() == expected["customer_id"].tolist()
    backticks = sources.load(_cfg(tmp_path, filter="`tenure` < 5 or spend.isna()"))
    assert len(backticks) == int((raw.tenure < 5).sum())


@pytest.mark.parametrize("expr,needle", [
    ("tenure >=", "is not a valid expression"),
    ("__import__('os').system('true')", "only comparisons"),
    ("tenure.__class__", "attribute '__class__' is not allowed"),
    ("@os", "is not a valid expression"),
    ("region.str.upper() == 'X'", "allowed"),
    ("(lambda: 1)()", "allowed"),
    ("x" * 3000, "longer than"),
])
def test_a_filter_is_a_query_over_columns_and_nothing_else(tmp_path, expr, needle):
    with pytest.raises(ConfigError, match=needle):
        sources.check_rows(_cfg(tmp_path, filter=expr))


def test_dataset_mistakes_name_the_file_and_the_column_before_any_job(tmp_path):
    root = customers_project(tmp_path / "p")
    dataset_file = root / "conf" / "dataset" / "customers.yaml"
    for overrides, needles in [
        (["dataset.filter='tenur > 3'"], [str(dataset_file), "column 'tenur'", "tenure"]),
        (["dataset.filter='tenure >'"], [str(dataset_file), "not a valid expression"]),
        (["dataset.select=[tenure,spnd]"], [str(dataset_file), "column 'spnd'"]),
        (["dataset.target_missing=maybe"], ["dataset.target_missing", "error, drop"]),
    ]:
        line = one_error_line(mlplat(root, "train", "--cfg", "job", *overrides, check=False))
        for needle in needles:
            assert needle in line, (needle, line)
    assert not (root / "runs").exists()


def test_missing_targets_fail_by_default_and_drop_on_request(tmp_path):
    root = customers_project(tmp_path / "p")
    customers_csv(root / "data" / "customers.csv", missing_target=5)
    failed = mlplat(root, "train", "evaluation=fast", check=False)
    said = failed.stdout + failed.stderr  # the job's log line
    assert failed.returncode != 0 and "5 missing values" in said
    assert "dataset.target_missing=drop" in said and "Traceback" not in said
    mlplat(root, "train", "evaluation=fast", "dataset.target_missing=drop", "dataset.filter='spend > 20'",
           "dataset.select=[tenure,spend,region]")
    done = [r for r in json.loads(mlplat(root, "runs", "list", "--format", "json").stdout) if r["status"] == "done"]
    shown = json.loads(mlplat(root, "runs", "show", done[0]["id"], "--format", "json").stdout)
    signature = json.loads((root / "runs" / "artifacts" / shown["id"] / "signature.json").read_text())
    assert [f["name"] for f in signature["inputs"]] == ["tenure", "spend", "region"]
    assert shown["config"]["dataset"]["filter"] == "spend > 20"
