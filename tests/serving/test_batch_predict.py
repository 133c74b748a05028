"""Batch prediction in process: the columnar path (pyarrow reader with the signature's
types, column-wise checks, compiled preprocessing, pyarrow writer) gives the plain
pipeline's predictions on the same rows, and refuses bad values naming the column."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from kit import REPO

from mlplat import ops
from mlplat.errors import ServingError
from mlplat.serving.batch import predict_file
from mlplat.serving.holder import load_version

S = "test"


@pytest.fixture
def loaded(store, trained):
    ops.register(trained["strong"], "churn", actor="bob", source=S, store=store)
    return load_version(store, "churn", 1)


@pytest.fixture
def data(tmp_path) -> pd.DataFrame:
    df = pd.read_csv(REPO / "data" / "churn.csv").head(1800)
    df.to_csv(tmp_path / "in.csv", index=False)
    df.to_parquet(tmp_path / "in.parquet", index=False)
    return df


@pytest.mark.parametrize("src, dst", [("in.csv", "out.parquet"), ("in.parquet", "out.csv"), ("in.csv", "out.csv")])
def test_the_columnar_batch_path_gives_the_plain_pipelines_predictions(loaded, data, tmp_path, src, dst):
    assert loaded.fast is not None  # the compiled preprocessing is what batch runs
    result = predict_file(loaded, tmp_path / src, tmp_path / dst, chunk_rows=1000)
    assert (result["rows"], result["chunks"]) == (1800, 2)
    out = pd.read_parquet(tmp_path / dst) if dst.endswith(".parquet") else pd.read_csv(tmp_path / dst)
    plain = pd.read_csv(tmp_path / "in.csv")
    proba = loaded.model.predict_proba(plain[loaded.spec.names])
    assert (out["prediction"].to_numpy() == loaded.model.predict(plain[loaded.spec.names])).all()
    got = out[["proba.0", "proba.1"]].to_numpy()
    assert np.abs(got - proba).max() <= 1e-12
    pd.testing.assert_series_equal(out["customer_id"], plain["customer_id"])  # extra columns pass through


def test_bad_values_are_refused_naming_the_column_and_the_rows(loaded, data, tmp_path):
    bad = data.copy()
    bad.loc[1700, "contract"] = "weekly"
    bad.to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(ServingError) as err:
        predict_file(loaded, tmp_path / "bad.csv", tmp_path / "o.parquet", chunk_rows=1000)
    msg = str(err.value)
    assert "rows 1000-1799" in msg and "feature 'contract': must be one of" in msg and "in row 1700" in msg
    assert "\n" not in msg and not (tmp_path / "o.parquet").exists()
    accepted = predict_file(loaded, tmp_path / "bad.csv", tmp_path / "o.parquet", chunk_rows=1000,
                            accept_violations=True)
    assert accepted["schema_violations"] == 1

    typed = data.astype({"tenure_months": object})
    typed.loc[10, "tenure_months"] = "ten"
    typed.to_csv(tmp_path / "typed.csv", index=False)
    with pytest.raises(ServingError, match="feature 'tenure_months' must be a whole number: .*'ten'"):
        predict_file(loaded, tmp_path / "typed.csv", tmp_path / "o.parquet")
    nulls = data.copy()
    nulls.loc[5, "support_calls"] = None
    nulls.to_parquet(tmp_path / "nulls.parquet", index=False)
    with pytest.raises(ServingError, match="feature 'support_calls': null/NaN in row 5"):
        predict_file(loaded, tmp_path / "nulls.parquet", tmp_path / "o.parquet")
