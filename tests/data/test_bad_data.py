"""Bad data, one clear line each: infinite values, a header with a newline, YAML booleans in
``allowed``, duplicate column names. In-process on the loader and the schema check, plus one
`mlplat train` end to end for the YAML case (composition is where No/Yes become booleans)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlplat.data import sources, validation
from mlplat.errors import SchemaViolation, TargetError


def _cfg(path, **extra) -> dict:
    return {"name": "bad", "source": "csv", "path": str(path), "task": "classification", "target": "label", **extra}


def _frame(n: int = 40) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({"x": rng.normal(size=n), "z": rng.normal(size=n), "label": rng.choice(["a", "b"], n)})


def _check(path, **extra) -> str:
    cfg = _cfg(path, **extra)
    with pytest.raises((SchemaViolation, TargetError)) as info:
        validation.validate(sources.load(cfg), cfg)
    text = str(info.value)
    assert "\n" not in text
    return text


def test_infinite_values_are_named_with_their_counts(tmp_path):
    df = _frame()
    df.loc[:2, "x"] = np.inf
    df.loc[5, "z"] = -np.inf
    df.to_csv(tmp_path / "d.csv", index=False)
    text = _check(tmp_path / "d.csv")
    assert "infinite values in column(s) 'x' (3), 'z' (1)" in text


def test_duplicate_column_names_are_refused_by_name(tmp_path):
    (tmp_path / "d.csv").write_text("x,x,label\n1,2,a\n3,4,b\n")
    text = _check(tmp_path / "d.csv")
    assert text == ("dataset 'bad' has duplicate column names ['x']: rename them in the source so each column "
                    "has one name")


def test_a_header_with_a_newline_stays_one_line(tmp_path):
    (tmp_path / "d.csv").write_text('"tar\nget",x\na,1\nb,2\n')
    text = _check(tmp_path / "d.csv")
    assert "'tar\\nget'" in text and "target column 'label' not found" in text


def test_unquoted_yaml_booleans_in_allowed_are_explained(project):
    conf = project.root / "conf"
    (conf / "dataset").mkdir(parents=True)
    (conf / "config.yaml").write_text("defaults:\n  - mlplat\n  - _self_\n")
    (conf / "dataset" / "yn.yaml").write_text(
        "name: yn\nsource: csv\npath: yn.csv\ntask: classification\ntarget: label\n"
        "columns:\n  label: {dtype: category, allowed: [No, Yes]}\n")
    _frame(60).assign(label=lambda d: np.where(d["x"] > 0, "Yes", "No")).to_csv(project.root / "yn.csv", index=False)
    p = project.train("dataset=yn", "evaluation=fast", check=False)
    assert p.returncode == 1 and "Traceback" not in p.stderr
    line = p.stderr.strip()
    assert len(line.splitlines()) == 1
    assert "outside the allowed values ['False', 'True']" in line and "quote the values" in line
