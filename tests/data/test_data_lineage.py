"""Lineage of the data stage: a run keeps its dataset's profile summary beside its fingerprint; `runs show`,
the model card and `mlplat data profile --model churn@production` read it back. Also the SQL paths against
PostgreSQL (a password in the URL never reaches the file)."""

from __future__ import annotations

import json
import re
import shlex
import shutil

import pandas as pd

from tests.conftest import REPO


def _readme_data_commands() -> list[list[str]]:
    text = (REPO / "README.md").read_text()
    block = re.search(r"## Data\n.*?```bash\n(.*?)```", text, re.S).group(1)
    return [shlex.split(line.split("  #")[0])[1:] for line in block.splitlines() if line.startswith("mlplat data")]


def test_lineage_and_every_data_command_in_the_readme(project):
    """A run keeps its data profile (runs show, the model card, `--model churn@production` read it), then the
    README's Data block line by line, in a project with its own conf/ and the files it names."""
    commands = _readme_data_commands()
    assert len(commands) == 8
    shutil.copytree(REPO / "conf", project.root / "conf")
    (project.root / "data").mkdir()
    shutil.copy(REPO / "data" / "churn.sqlite", project.root / "data")
    shutil.copy(REPO / "data" / "churn.csv", project.root / "data")
    df = pd.read_csv(REPO / "data" / "churn.csv")
    df.to_csv(project.root / "customers.csv", index=False)
    df.sample(1200, random_state=4).to_parquet(project.root / "extract.parquet")
    df.sample(1200, random_state=5).to_csv(project.root / "new_extract.csv", index=False)
    project.train("dataset=churn", "evaluation=fast", "model=logreg")
    run = project.json("runs", "list", "--last", "1")[0]
    # lineage: the run keeps its dataset's profile summary beside its fingerprint
    shown = project.json("runs", "show", run["id"])
    summary = shown["data_profile"]
    assert summary["fingerprint"] == shown["dataset_fingerprint"]
    assert (summary["n_rows"], summary["n_columns"], summary["target"]) == (2000, 7, "churned")
    assert summary["columns"]["monthly_charges"]["missing_share"] == 0.0495
    text = project.mlplat("runs", "show", run["id"], check=True).stdout
    assert "data profile: 2,000 rows x 7 columns, 0 duplicated; missing: monthly_charges 5.0%, region 3.2%" in text
    project.mlplat("models", "register", run["id"], "--name", "churn", check=True)
    req = json.loads(project.mlplat("models", "promote", "churn", "1", "--to", "production", "--format", "json",
                                    check=True, MLPLAT_ACTOR="bob").stdout)
    project.mlplat("approve", req["id"], check=True, MLPLAT_ACTOR="alice")
    card = project.mlplat("models", "card", "churn:1", "--format", "md", check=True).stdout
    assert "## Data profile" in card and "2000 rows x 7 columns" in card
    profiled = json.loads(project.mlplat("data", "profile", "--model", "churn@production", "--format", "json",
                                         check=True).stdout)
    assert profiled["n_rows"] == 2000 and profiled["source"].startswith("churn:1 (run " + run["id"])
    for args in commands:
        if args[:2] == ["data", "infer"] and (project.root / "conf" / "dataset" / "customers.yaml").exists():
            (project.root / "conf" / "dataset" / "customers.yaml").unlink()  # the block shows two ways to infer it
        proc = project.mlplat(*args)
        assert proc.returncode == 0, f"mlplat {' '.join(args)}\n{proc.stdout}\n{proc.stderr}"
    assert (project.root / "profile.html").read_text().startswith("<!doctype html>")
    assert 'source: "sql"' in (project.root / "conf" / "dataset" / "customers.yaml").read_text()


def test_infer_from_postgresql_never_writes_the_password_and_the_config_loads(project, pg_url):
    import sqlalchemy as sa

    engine = sa.create_engine(pg_url)
    pd.read_csv(REPO / "data" / "churn.csv").to_sql("customers", engine, index=False)
    engine.dispose()
    secret_url = sa.make_url(pg_url).set(password="hunter2").render_as_string(hide_password=False)
    shutil.copytree(REPO / "conf", project.root / "conf")
    out = project.mlplat("data", "infer", "--sql", "SELECT * FROM customers", "--url", secret_url,
                         "--target", "churned", "--name", "customers_pg", check=True)
    assert "export CUSTOMERS_PG_DB_PASSWORD" in out.stdout and "hunter2" not in out.stdout + out.stderr
    text = (project.root / "conf" / "dataset" / "customers_pg.yaml").read_text()
    assert "hunter2" not in text and 'password_env: "CUSTOMERS_PG_DB_PASSWORD"' in text
    assert "task: classification" in text and 'source: "sql"' in text
    missing = project.mlplat("data", "profile", "dataset=customers_pg")
    assert missing.returncode == 1 and "CUSTOMERS_PG_DB_PASSWORD" in missing.stderr  # one line: how to fix it
    ok = project.mlplat("data", "validate", "dataset=customers_pg", check=True, CUSTOMERS_PG_DB_PASSWORD="hunter2")
    assert ok.stdout.startswith("ok: dataset customers_pg (sql): 2000 rows")
