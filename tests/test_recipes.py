"""The recipes of docs/architecture.md, done as written: a new dataset and a new model family
(config files only), a new schedule job type; plus the tables the other recipes rely on."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from mlplat.config.schema import Source
from mlplat.data.sources import LOADERS

REPO = Path(__file__).resolve().parents[1]


def _project(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    shutil.copytree(REPO / "conf", tmp_path / "conf")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLPLAT_", "HYDRA_"))}
    env.update(MLPLAT_STORE_URL=f"sqlite:///{tmp_path / 'runs' / 'mlplat.db'}",
               MLPLAT_ARTIFACTS=str(tmp_path / "runs" / "artifacts"), PYTHONPATH=str(REPO))
    return tmp_path, env


def test_add_a_dataset_and_a_model_family_with_config_files_only(tmp_path: Path):
    root, env = _project(tmp_path)
    rows = ["x1,x2,label"] + [f"{i % 7},{(i * 3) % 11},{'yes' if (i % 7) + (i * 3) % 11 > 8 else 'no'}"
                              for i in range(120)]
    (root / "data").mkdir()
    (root / "data" / "tiny.csv").write_text("\n".join(rows) + "\n")
    # the recipe's two files, as docs/architecture.md shows them
    (root / "conf" / "dataset" / "tiny.yaml").write_text(yaml.safe_dump({
        "name": "tiny", "description": "two features, a yes/no label", "source": "csv", "path": "data/tiny.csv",
        "task": "classification", "target": "label",
        "columns": {"x1": {"dtype": "integer", "min": 0}, "label": {"dtype": "category", "allowed": ["yes", "no"]}}}))
    (root / "conf" / "model" / "naive_bayes.yaml").write_text(yaml.safe_dump({
        "name": "naive_bayes", "classifier": "sklearn.naive_bayes.GaussianNB", "regressor": None,
        "params": {}, "seed_param": None}))
    run = subprocess.run([sys.executable, "-m", "mlplat.cli", "train", "dataset=tiny", "model=naive_bayes",
                          "evaluation=fast"], cwd=root, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    listed = subprocess.run([sys.executable, "-m", "mlplat.cli", "runs", "list", "--format", "json"], cwd=root,
                            env=env, capture_output=True, text=True, timeout=120)
    [row] = yaml.safe_load(listed.stdout)
    assert (row["status"], row["dataset"], row["model"]) == ("done", "tiny", "naive_bayes")


def test_add_a_schedule_job_type(tmp_path: Path, monkeypatch):
    from mlplat.scheduling import jobs, runner

    root, env = _project(tmp_path)
    for key, value in env.items():
        if key.startswith("MLPLAT_"):
            monkeypatch.setenv(key, value)
    monkeypatch.setenv("MLPLAT_CONF_DIR", str(root / "conf"))

    def count_models(params: dict, ctx: jobs.JobContext) -> str:  # the recipe's job function
        from mlplat import ops

        return f"{len(ops.list_models())} model(s)"

    monkeypatch.setitem(jobs.JOB_TYPES, "count_models", count_models)  # the recipe's JOB_TYPES line
    (root / "conf" / "schedule" / "default.yaml").write_text(yaml.safe_dump({
        "timezone": "UTC", "reports_dir": str(root / "reports"),
        "jobs": {"models_daily": {"type": "count_models", "trigger": {"cron": "0 7 * * *"}}}}))
    result = runner.execute("models_daily", manual=True)
    assert (result["status"], result["summary"]) == ("ok", "0 model(s)")


def test_every_declared_dataset_source_has_a_loader():
    """Adding a source kind is two lines: the Source enum value and its LOADERS entry."""
    assert {s.value for s in Source} == set(LOADERS)
