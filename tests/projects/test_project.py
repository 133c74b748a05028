"""A user's own project: `mlplat init`, its conf/ layered over the shipped library, its root."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from tests.conftest import REPO
from tests.projects.kit import SHORT_CONFIG, customers_project, mlplat, one_error_line


def _runs(db: Path) -> list[tuple]:
    with sqlite3.connect(db) as con:
        return con.execute("SELECT id, status, model, dataset FROM runs ORDER BY started_at").fetchall()


def test_init_then_train_and_leaderboard_from_any_subdirectory(tmp_path):
    out = mlplat(tmp_path, "init", "my-project").stdout
    root = tmp_path / "my-project"
    for name in ("conf/config.yaml", "conf/dataset/example.yaml", "conf/registry/default.yaml",
                 "conf/access/default.yaml", "data/example.csv",
                 ".gitignore", "README.md"):
        assert (root / name).is_file() and name in out, name
    assert "runs/" in (root / ".gitignore").read_text()
    assert "roles.ml-lead" in out  # how to add the second approver four-eyes needs
    assert {"Yes", "No"} == {line.rsplit(",", 1)[1] for line in (root / "data/example.csv").read_text().splitlines()[1:]}

    mlplat(root / "conf" / "dataset", "train")  # right after init, on the example dataset, from a subdirectory
    assert not (root / "conf" / "dataset" / "runs").exists()  # runs/ is the root's, wherever mlplat runs
    assert [r[1:] for r in _runs(root / "runs" / "mlplat.db")] == [("done", "logreg", "example")]
    assert list((root / "runs" / "hydra").iterdir())
    board = json.loads(mlplat(root / "data", "leaderboard", "--format", "json").stdout)
    assert [r["model"] for r in board["rows"]] == ["logreg"]
    run = json.loads(mlplat(root / "data", "runs", "show", board["rows"][0]["id"], "--format", "json").stdout)
    assert run["config"]["tracking"]["url"] == f"sqlite:///{root / 'runs' / 'mlplat.db'}"  # recorded as it ran
    assert run["config"]["name"] == "my-project"


def test_init_never_overwrites(tmp_path):
    mlplat(tmp_path, "init")
    (tmp_path / "conf" / "config.yaml").write_text(SHORT_CONFIG)
    line = one_error_line(mlplat(tmp_path, "init", check=False))
    assert "conf/config.yaml" in line and "never overwrites" in line
    assert (tmp_path / "conf" / "config.yaml").read_text() == SHORT_CONFIG


def test_read_commands_never_create_a_store(tmp_path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    for args in (["leaderboard"], ["runs", "list"], ["store", "stats"]):
        line = one_error_line(mlplat(outside, *args, check=False))
        assert f"no store at {outside / 'runs' / 'mlplat.db'}: run `mlplat train` first, or pass --store" in line
        assert f"no mlplat project found in {outside}" in line  # which directory it looked in
    line = one_error_line(mlplat(outside, "runs", "list", "--store", "sqlite:///other.db", check=False))
    assert f"no store at {outside / 'other.db'}" in line
    mlplat(tmp_path, "init", "proj")
    line = one_error_line(mlplat(tmp_path / "proj" / "data", "leaderboard", check=False))
    assert line == (f"error: no store at {tmp_path / 'proj' / 'runs' / 'mlplat.db'}: run `mlplat train` first, "
                    "or pass --store")
    assert not list(tmp_path.rglob("runs")) and not list(tmp_path.rglob("*.db"))
    # training outside any project works with the shipped library, and says where it looked
    trained = mlplat(outside, "train", "evaluation=fast")
    assert f"note: no mlplat project found in {outside} or above" in trained.stderr
    assert (outside / "runs" / "mlplat.db").is_file()


def test_a_project_with_one_dataset_gets_every_shipped_config_and_overrides_by_file_name(tmp_path):
    root = customers_project(tmp_path / "p")
    (root / "conf" / "model").mkdir()
    (root / "conf" / "model" / "logreg.yaml").write_text(
        "name: logreg\nclassifier: sklearn.linear_model.LogisticRegression\nparams: {C: 0.25, max_iter: 500}\n")
    info = mlplat(root, "train", "--info", "searchpath").stdout
    assert info.index(f"file://{root / 'conf'}") < info.index("pkg://mlplat_conf")
    # the project's logreg.yaml, and a shipped model on a text target ("Yes"/"No" broke XGBoost before)
    mlplat(root, "train", "-m", "model=logreg,xgboost", "features=raw", "evaluation=fast")
    runs = json.loads(mlplat(root, "runs", "list", "--format", "json").stdout)
    assert sorted(r["model"] for r in runs) == ["logreg", "xgboost"] and {r["status"] for r in runs} == {"done"}
    [logreg_id] = [r["id"] for r in runs if r["model"] == "logreg"]
    logreg = json.loads(mlplat(root, "runs", "show", logreg_id, "--format", "json").stdout)
    assert logreg["config"]["model"]["params"] == {"C": 0.25, "max_iter": 500}
    assert logreg["config"]["evaluation"]["cv"]["folds"] == 3  # evaluation=fast: shipped


def test_an_own_estimator_class_from_a_project_package(tmp_path):
    root = customers_project(tmp_path / "p")
    (root / "teamlib").mkdir()
    (root / "teamlib" / "__init__.py").write_text("")
    (root / "teamlib" / "models.py").write_text(
        "import numpy as np\n"
        "from sklearn.base import BaseEstimator, ClassifierMixin\n\n"
        "class NearestCentroid(ClassifierMixin, BaseEstimator):\n"
        "    def __init__(self, shrink=0.0):\n"
        "        self.shrink = shrink\n\n"
        "    def fit(self, X, y):\n"
        "        X, y = np.asarray(X, float), np.asarray(y)\n"
        "        assert set(np.unique(y)) <= {0, 1}, 'labels reach the estimator as codes'\n"
        "        self.classes_ = np.unique(y)\n"
        "        self.centroids_ = np.stack([X[y == c].mean(axis=0) for c in self.classes_]) * (1 - self.shrink)\n"
        "        return self\n\n"
        "    def predict_proba(self, X):\n"
        "        d = ((np.asarray(X, float)[:, None, :] - self.centroids_[None]) ** 2).sum(-1)\n"
        "        w = np.exp(-(d - d.min(axis=1, keepdims=True)))\n"
        "        return w / w.sum(axis=1, keepdims=True)\n\n"
        "    def predict(self, X):\n"
        "        return self.classes_[self.predict_proba(X).argmax(axis=1)]\n")
    (root / "conf" / "model").mkdir()
    (root / "conf" / "model" / "centroid.yaml").write_text(
        "name: centroid\nclassifier: teamlib.models.NearestCentroid\nparams: {shrink: 0.1}\nseed_param: null\n")
    env = {"PYTHONPATH": str(root)}
    line = one_error_line(mlplat(root, "train", "model=centroid", check=False, **env))
    assert "teamlib.models.NearestCentroid" in line and "runtime.allowed_modules" in line and "conf/config.yaml" in line
    assert not (root / "runs" / "mlplat.db").exists()  # refused before any job
    bad = one_error_line(mlplat(root, "train", "model=centroid", "+model.params.shrinkk=1",
                                "runtime.allowed_modules=[sklearn,teamlib]", check=False, **env))
    assert "NearestCentroid" in bad and "shrinkk" in bad
    (root / "conf" / "config.yaml").write_text(SHORT_CONFIG + "runtime:\n  allowed_modules: [sklearn, mlplat, teamlib]\n")
    mlplat(root, "train", "model=centroid", "evaluation=fast", **env)
    [run] = json.loads(mlplat(root, "runs", "list", "--format", "json").stdout)
    assert run["model"] == "centroid" and run["status"] == "done"
    shown = json.loads(mlplat(root, "runs", "show", run["id"], "--format", "json").stdout)
    signature = json.loads(Path(shown["artifact_dir"], "signature.json").read_text())
    assert signature["output"]["classes"] == ["No", "Yes"] and signature["output"]["positive_class"] == "Yes"


def test_registry_refusals_name_the_file_and_the_key(tmp_path):
    root = tmp_path / "p"
    mlplat(tmp_path, "init", "p")
    mlplat(root, "train", "evaluation=fast")
    [run] = json.loads(mlplat(root, "runs", "list", "--format", "json").stdout)
    mlplat(root, "models", "register", run["id"], "--name", "example")
    request = json.loads(mlplat(root, "models", "promote", "example", "1", "--to", "production",
                                "--format", "json").stdout)
    policy = root / "conf" / "access" / "default.yaml"
    own = one_error_line(mlplat(root, "approve", request["id"], check=False))
    assert "four-eyes" in own and "roles.ml-lead" in own and str(policy) in own
    stranger = one_error_line(mlplat(root, "approve", request["id"], check=False, MLPLAT_ACTOR="alice"))
    assert f"add 'alice' to roles.ml-lead in {policy}" in stranger
    # the fix the message names: a second approver in the project's policy
    policy.write_text(policy.read_text().replace("ml-lead: [", 'ml-lead: ["alice", ', 1))
    mlplat(root, "approve", request["id"], MLPLAT_ACTOR="alice")
    shown = json.loads(mlplat(root, "models", "show", "example@production", "--format", "json").stdout)
    assert shown["version"] == 1
    refused = one_error_line(mlplat(root, "models", "rollback", "example", check=False, MLPLAT_ACTOR="bob"))
    assert f"add 'bob' to roles.ml-lead in {policy}" in refused


def test_unknown_artifact_schemes_are_refused_before_any_job(tmp_path):
    root = customers_project(tmp_path / "p")
    for url in ("ftp://host/mlplat", "file:///tmp/x"):
        line = one_error_line(mlplat(root, "train", f"tracking.artifacts={url}", check=False))
        assert f"tracking.artifacts: unknown URL scheme '{url.split('://')[0]}://'" in line and "s3://" in line
    assert not (root / "ftp:").exists() and not (root / "runs").exists()


def test_conf_dir_from_the_environment_wins_over_the_working_directory(tmp_path):
    here = customers_project(tmp_path / "here")
    other = tmp_path / "other" / "conf"
    (other / "dataset").mkdir(parents=True)
    (other / "config.yaml").write_text("defaults:\n  - mlplat\n  - override dataset: wine\n  - _self_\n")
    shown = mlplat(here, "train", "--cfg", "job", "--package", "dataset", MLPLAT_CONF_DIR=str(other)).stdout
    assert "name: wine" in shown
    assert "name: customers" in mlplat(here, "train", "--cfg", "job", "--package", "dataset").stdout


def test_a_conf_dir_from_the_environment_that_is_not_there_is_one_line_for_every_command(tmp_path):
    missing = str(tmp_path / "no-such-conf")
    for args in (["train", "evaluation=fast"], ["train", "--cfg", "job"], ["runs", "list"], ["check", "--no-data"]):
        proc = mlplat(tmp_path, *args, check=False, MLPLAT_CONF_DIR=missing)
        line = one_error_line(proc)
        assert f"MLPLAT_CONF_DIR={missing!r} is not a directory" in line and proc.stderr.count("\n") == 1, args
    assert not (tmp_path / "runs").exists()  # nothing was created


def test_a_pyproject_table_marks_the_project_root(tmp_path):
    root = tmp_path / "repo"
    customers_project(root)
    (root / "conf" / "config.yaml").unlink()  # no root config of its own: the shipped one is used
    (root / "pyproject.toml").write_text('[project]\nname = "x"\n\n[tool.mlplat]\n')
    (root / "src" / "pkg").mkdir(parents=True)
    mlplat(root / "src" / "pkg", "train", "dataset=customers", "evaluation=fast")
    assert [r[1:] for r in _runs(root / "runs" / "mlplat.db")] == [("done", "logreg", "customers")]
    assert not (root / "src" / "pkg" / "runs").exists()


def test_the_cheap_tracking_read_follows_the_layers(tmp_path, monkeypatch):
    from mlplat.config.compose import compose, config_dirs, to_plain
    from mlplat.project import resolve_tracking
    from mlplat.tracking.defaults import default_tracking

    for key in ("MLPLAT_STORE_URL", "MLPLAT_ARTIFACTS", "MLPLAT_CONF_DIR"):
        monkeypatch.delenv(key, raising=False)
    root = customers_project(tmp_path / "p")
    monkeypatch.chdir(root / "data")
    where = ("url", "artifacts")  # what the cheap read answers (lock_wait matters to writes only)
    composed = {k: v for k, v in to_plain(compose([]))["tracking"].items() if k in where}
    assert resolve_tracking(default_tracking(config_dirs())) == composed
    assert composed["url"] == f"sqlite:///{root / 'runs' / 'mlplat.db'}"
    (root / "conf" / "tracking").mkdir()  # a project file shadows the shipped tracking/local.yaml
    (root / "conf" / "tracking" / "local.yaml").write_text("url: sqlite:///team/t.db\nartifacts: team/artifacts\n")
    composed = {k: v for k, v in to_plain(compose([]))["tracking"].items() if k in where}
    assert resolve_tracking(default_tracking(config_dirs())) == composed
    assert composed == {"url": f"sqlite:///{root / 'team' / 't.db'}", "artifacts": str(root / "team" / "artifacts")}
    (root / "conf" / "config.yaml").write_text(SHORT_CONFIG.replace("  - _self_", "  - override tracking: postgres\n"
                                                                                  "  - _self_"))
    assert default_tracking(config_dirs())["url"].startswith("postgresql")
    assert to_plain(compose([]))["tracking"]["url"].startswith("postgresql")


def test_the_issue_walkthrough_init_infer_train_lightgbm(tmp_path):
    mlplat(tmp_path, "init", "my-project")
    root = tmp_path / "my-project"
    # the inferred dataset config lands in the project's conf/
    mlplat(root, "data", "infer", "data/example.csv", "--target", "churned", "--name", "customers")
    assert (root / "conf" / "dataset" / "customers.yaml").is_file()
    mlplat(root, "train", "dataset=customers", "model=lightgbm", "model.params.n_estimators=20", "evaluation=fast")
    [run] = json.loads(mlplat(root, "runs", "list", "--format", "json").stdout)
    assert (run["dataset"], run["model"], run["status"]) == ("customers", "lightgbm", "done")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "x.csv").write_text((root / "data" / "example.csv").read_text())
    line = one_error_line(mlplat(outside, "data", "infer", "x.csv", "--target", "churned", "--name", "x", check=False))
    assert f"no mlplat project found in {outside}" in line and "mlplat init" in line
    assert not (outside / "conf").exists()


def test_the_serving_config_read_from_its_file_equals_the_composed_one(tmp_path, monkeypatch):
    from mlplat.config.compose import compose, config_dirs, to_plain
    from mlplat.ops.serving import _serving
    from mlplat.tracking.defaults import default_group

    monkeypatch.delenv("MLPLAT_CONF_DIR", raising=False)
    root = customers_project(tmp_path / "p")
    monkeypatch.chdir(root / "data")
    assert default_group(config_dirs(), "serving") is not None  # the shipped file: read, not composed
    assert _serving(None) == to_plain(compose([]))["serving"]
    (root / "conf" / "serving").mkdir()  # the project's own serving file shadows the shipped one
    own = (REPO / "conf" / "serving" / "default.yaml").read_text().replace("chunk_rows: 10000", "chunk_rows: 777")
    (root / "conf" / "serving" / "default.yaml").write_text(own)
    assert _serving(None) == to_plain(compose([]))["serving"] and _serving(None)["batch"]["chunk_rows"] == 777
    # anything only Hydra can resolve is composed
    (root / "conf" / "serving" / "default.yaml").write_text(own.replace("port: 8000", "port: ${oc.env:PORT,8001}"))
    assert default_group(config_dirs(), "serving") is None
    assert _serving(None)["port"] == 8001
    (root / "conf" / "serving" / "default.yaml").write_text(own)
    (root / "conf" / "config.yaml").write_text(SHORT_CONFIG + "serving:\n  port: 9000\n")
    assert default_group(config_dirs(), "serving") is None
    assert _serving(None)["port"] == 9000
