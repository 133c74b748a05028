"""`mlplat data profile | infer | validate | compare` as a user runs them: the real CLI in subprocesses.

Every command on every bundled dataset (run a few at a time: each is a fresh interpreter),
the inferred config training unchanged, the leakage warning on a transformed copy of the
target, and every bad input ending in one line on stderr and a non-zero exit.
"""

from __future__ import annotations

import json
import shutil
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pytest

from tests.conftest import REPO

DATASETS = sorted(p.stem for p in (REPO / "conf" / "dataset").glob("*.yaml"))


def _all(project, commands: list[list[str]]):
    with ThreadPoolExecutor(max_workers=3) as pool:
        return list(pool.map(lambda args: project.mlplat(*args, timeout=180), commands))


def _ok(proc) -> None:
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"


def _one_line_error(proc, *needles: str) -> None:
    assert proc.returncode != 0, proc.stdout
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    assert "Traceback" not in proc.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_profile_infer_validate_and_compare_every_bundled_dataset(project):
    import yaml

    from mlplat import ops
    from mlplat.data import sources
    from mlplat.data.compare import schema_check

    # a "new extract" of each dataset: its own rows, so it matches the schema and does not drift
    currents, frames = {}, {}
    for name in DATASETS:
        frames[name] = sources.load(ops.compose_plain([f"dataset={name}"])["dataset"])
        currents[name] = project.root / f"{name}-extract.parquet"
        frames[name].sample(frac=0.75, random_state=0).to_parquet(currents[name])
    cmds = []
    for name in DATASETS:
        cmds += [["data", "profile", f"dataset={name}", "--format", "json"],
                 ["data", "validate", f"dataset={name}"],
                 ["data", "compare", f"dataset={name}", "--current", str(currents[name]), "--format", "json"]]
    procs = _all(project, cmds)
    for i, name in enumerate(DATASETS):
        js, validate, compare = procs[3 * i: 3 * i + 3]
        for p in (js, validate, compare):
            _ok(p)
        profile = json.loads(js.stdout)
        assert profile["format"] == "mlplat.data-profile" and profile["n_rows"] == len(frames[name])
        assert profile["target"] and profile["task"] in ("classification", "regression")
        assert set(profile["target_associations"]) and "pearson" in profile["associations"]
        assert validate.stdout.startswith("ok: ") and "match the schema" in validate.stdout
        result = json.loads(compare.stdout)
        assert result["status"] in ("ok", "warn"), (name, result["status"], result["drift"]["status"])
        assert result["schema"]["declared"]["ok"] and result["drift"]["n_checked"] > 0
        # the same profile as a page and as Markdown (what --output FILE.html / .md writes)
        shown = {"profile": profile, "title": f"Data profile: {name}", "source": name}
        page = ops.render_profile(shown, "html")
        assert page.startswith("<!doctype html>") and "<script" not in page and "http" not in page
        assert ops.render_profile(shown, "md").startswith(f"# Data profile: {name}")
        # infer on every dataset (in process; the CLI's infer is the next test): the config holds its data
        frames[name].to_csv(project.root / f"{name}.csv", index=False)
        out = ops.infer_dataset(target=profile["target"], name=f"{name}_inferred",
                                input=str(project.root / f"{name}.csv"),
                                output=str(project.root / f"{name}_inferred.yaml"))
        declared = yaml.safe_load(out["text"])
        assert (declared["task"], declared["target"]) == (profile["task"], profile["target"])
        assert schema_check(frames[name], declared)["ok"], name


def test_infer_writes_a_config_that_trains_unchanged_and_refuses_to_overwrite(project):
    conf = project.root / "conf"
    shutil.copytree(REPO / "conf", conf)
    df = pd.read_csv(REPO / "data" / "churn.csv")
    df["signup_date"] = pd.date_range("2023-01-01", periods=len(df), freq="4h").strftime("%Y-%m-%d %H:%M")
    df["refund_amount"] = df["churned"] * 25.0 + (df["tenure_months"] % 7) * 0.01  # a transformed copy of the target
    df.to_csv(project.root / "customers.csv", index=False)
    out = project.mlplat("data", "infer", "customers.csv", "--target", "churned", "--name", "customers")
    _ok(out)
    path = conf / "dataset" / "customers.yaml"
    text = path.read_text()
    assert "task: classification" in text and 'path: "customers.csv"' in text
    assert 'id_column: "customer_id"' in text and '"contract", "region"' in text
    assert '- "refund_amount"  # probable target leakage: AUC 1.0000' in text  # dropped, and says why
    assert '- "signup_date"  # date/time' in text
    assert '"monthly_charges": {dtype: numeric, min: 15, max: 127.96, max_null_share: 0.072}' in text
    again = project.mlplat("data", "infer", "customers.csv", "--target", "churned", "--name", "customers")
    _one_line_error(again, "already exists", "--force")
    assert path.read_text() == text
    _ok(project.mlplat("data", "infer", "customers.csv", "--target", "churned", "--name", "customers", "--force"))
    train = project.train("dataset=customers", "evaluation=fast", "model=logreg")
    assert "done" in train.stderr + train.stdout
    run = project.json("runs", "list", "--last", "1")[0]
    assert (run["dataset"], run["status"]) == ("customers", "done")


def test_infer_from_the_bundled_sqlite_and_a_parquet_file(project):
    conf = project.root / "conf"
    shutil.copytree(REPO / "conf", conf)
    (project.root / "data").mkdir()
    shutil.copy(REPO / "data" / "churn.sqlite", project.root / "data")  # relative paths start at conf/'s parent
    sql = project.mlplat("data", "infer", "--sql", "SELECT * FROM customers", "--url", "sqlite:///data/churn.sqlite",
                         "--target", "churned", "--name", "churn_sql_inferred")
    _ok(sql)
    text = (conf / "dataset" / "churn_sql_inferred.yaml").read_text()
    assert 'source: "sql"' in text and 'url: "sqlite:///data/churn.sqlite"' in text and "password_env" not in text
    pq = project.mlplat("data", "infer", str(REPO / "data" / "wage.parquet"), "--target", "wage", "--name", "wage2",
                        "--output", str(project.root / "wage2.yaml"))
    _ok(pq)
    text = (project.root / "wage2.yaml").read_text()
    assert 'source: "parquet"' in text and "task: regression" in text and 'id_column: "person_id"' in text
    profile = project.mlplat("data", "profile", "dataset=churn_sql_inferred", "--format", "json")
    _ok(profile)
    assert json.loads(profile.stdout)["n_rows"] == 2000


def test_leakage_warning_fires_on_a_transformed_copy_of_the_target(project):
    wage = pd.read_parquet(REPO / "data" / "wage.parquet")
    wage["log_wage"] = np.log(wage["wage"].clip(lower=1))  # monotone copy of a regression target
    wage.to_parquet(project.root / "wage_leak.parquet")
    out = project.mlplat("data", "profile", "--input", "wage_leak.parquet", "--target", "wage", "--format", "json")
    _ok(out)
    warnings = json.loads(out.stdout)["warnings"]
    leaks = [w for w in warnings if w["type"] == "leakage"]
    assert [w["column"] for w in leaks] == ["log_wage"] and leaks[0]["strength"] > 0.999
    assert "probable target leakage" in leaks[0]["message"]
    table = project.mlplat("data", "profile", "--input", "wage_leak.parquet", "--target", "wage")
    assert "leakage" in table.stdout and "log_wage" in table.stdout


def test_validate_and_compare_a_broken_extract(project):
    df = pd.read_csv(REPO / "data" / "churn.csv")
    bad = df.copy()
    bad.loc[:99, "contract"] = "weekly"
    bad["monthly_charges"] = bad["monthly_charges"] * 3
    bad = bad.drop(columns=["support_calls"])
    bad.to_csv(project.root / "bad.csv", index=False)
    validate = project.mlplat("data", "validate", "dataset=churn", "--current", "bad.csv")
    _one_line_error(validate, "breaks its schema", "'contract' has 100 rows outside the allowed values",
                    "support_calls")
    compare = project.mlplat("data", "compare", "dataset=churn", "--current", "bad.csv")
    assert compare.returncode == 1, compare.stdout + compare.stderr
    assert "status schema" in compare.stdout and "removed ['support_calls']" in compare.stdout
    assert "monthly_charges" in compare.stdout and "drift" in compare.stdout
    md = project.mlplat("data", "compare", "dataset=churn", "--current", "bad.csv", "--output", "cmp.md")
    assert md.returncode == 1 and (project.root / "cmp.md").read_text().startswith("# Compare dataset churn")


@pytest.mark.parametrize("setup, args, needles", [
    (lambda root: (root / "garbage.parquet").write_bytes(b"not parquet at all"),
     ["data", "profile", "--input", "garbage.parquet"], ["not readable as parquet"]),
    (lambda root: (root / "empty.csv").write_bytes(b""), ["data", "profile", "--input", "empty.csv"], ["is empty"]),
    (lambda root: (root / "nocols.csv").write_text("\n\n"), ["data", "profile", "--input", "nocols.csv"],
     ["has no columns"]),
    (lambda root: (root / "header.csv").write_text("a,b\n"), ["data", "profile", "--input", "header.csv"],
     ["has no rows"]),
    (None, ["data", "profile", "--input", "missing.csv"], ["not found"]),
    (None, ["data", "profile", "dataset=churn", "--target", "nope"], ["target 'nope' is not a column", "churned"]),
    (None, ["data", "infer", str(REPO / "data" / "churn.csv"), "--target", "nope", "--name", "x"], ["'nope'"]),
    (None, ["data", "infer", "--sql", "SELECT * FROM no_such_table", "--url", "sqlite:///data/churn.sqlite",
            "--target", "churned", "--name", "x"], ["SQL query failed", "no_such_table"]),
    (None, ["data", "infer", "--sql", "SELECT 1", "--url", "postgresql+psycopg://bob:hunter2@127.0.0.1:1/db",
            "--target", "churned", "--name", "x"], ["SQL query failed", "bob:***@127.0.0.1:1"]),
    (None, ["data", "profile", "dataset=nope"], ["unknown option 'nope'"]),
    (None, ["data", "validate", "churn"], ["KEY=VALUE"]),
])
def test_bad_input_is_one_line_and_a_non_zero_exit(project, setup, args, needles):
    if setup:
        setup(project.root)
    proc = project.mlplat(*args)
    _one_line_error(proc, *needles)
    assert "hunter2" not in proc.stderr + proc.stdout


def test_a_column_that_cannot_be_profiled_is_reported_and_skipped(project):
    df = pd.DataFrame({"x": np.arange(50.0), "nested": [{"a": i, "b": [i]} for i in range(50)],
                       "y": np.arange(50) % 2})
    df.to_parquet(project.root / "nested.parquet")
    out = project.mlplat("data", "profile", "--input", "nested.parquet", "--target", "y", "--format", "json")
    _ok(out)
    profile = json.loads(out.stdout)
    assert "nested" in profile["skipped"] and "nested" not in profile["columns"]
    assert profile["columns"]["x"]["n_distinct"] == 50
    assert any(w["type"] == "skipped" and w["column"] == "nested" for w in profile["warnings"])
