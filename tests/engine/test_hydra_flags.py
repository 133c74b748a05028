"""Every Hydra command-line flag works on `mlplat train`, as in any Hydra app, with mlplat's
own pre-checks (allow-list, parameter validation) also under --cfg."""

from __future__ import annotations

import json

import pytest

from tests.projects.kit import CUSTOMERS_YAML, customers_csv, customers_project, mlplat, one_error_line


@pytest.fixture(scope="module")
def proj(tmp_path_factory):
    """A project, plus a separate conf directory holding only one extra dataset."""
    root = customers_project(tmp_path_factory.mktemp("flags") / "p")
    extra = root.parent / "more_conf"
    (extra / "dataset").mkdir(parents=True)
    (extra / "dataset" / "customers2.yaml").write_text(CUSTOMERS_YAML.replace("name: customers", "name: customers2")
                                                       .replace("data/customers.csv", "data/customers2.csv"))
    customers_csv(root / "data" / "customers2.csv", seed=2)
    (root / "conf" / "knn_config.yaml").write_text(
        "defaults:\n  - mlplat\n  - override dataset: customers\n  - override model: knn\n  - _self_\nname: alt\n")
    return root


def test_config_dir_adds_a_layer_in_front(proj):
    shown = mlplat(proj, "train", "dataset=customers2", "--config-dir", "../more_conf", "--cfg", "job",
                   "--package", "dataset").stdout
    assert "name: customers2" in shown
    assert "name: customers2" in mlplat(proj, "train", "-cd=../more_conf", "dataset=customers2", "--cfg", "job").stdout
    line = one_error_line(mlplat(proj, "train", "-cd", "../nowhere", check=False))
    assert "nowhere" in line and "not found" in line


@pytest.mark.parametrize("flag", ["--config-name", "-cn"])
def test_config_name_picks_another_root_config(proj, flag):
    shown = mlplat(proj, "train", flag, "knn_config", "--cfg", "job").stdout
    assert "classifier: sklearn.neighbors.KNeighborsClassifier" in shown and "name: alt" in shown


@pytest.mark.parametrize("flag", ["--config-path", "-cp"])
def test_config_path_replaces_the_primary_directory(proj, flag):
    other = proj.parent / "primary"
    (other / "dataset").mkdir(parents=True, exist_ok=True)
    (other / "config.yaml").write_text("defaults:\n  - mlplat\n  - override dataset: wine\n  - _self_\nname: cp\n")
    shown = mlplat(proj, "train", flag, "../primary", "--cfg", "job").stdout  # relative to the working directory
    assert "name: wine" in shown and "name: cp" in shown


def test_a_run_with_a_config_dir_and_a_config_name(proj):
    mlplat(proj, "train", "-cd", str(proj.parent / "more_conf"), "-cn", "knn_config", "dataset=customers2",
           "evaluation=fast")
    runs = json.loads(mlplat(proj, "runs", "list", "--format", "json").stdout)
    assert (runs[0]["dataset"], runs[0]["model"], runs[0]["experiment"]) == ("customers2", "knn", "alt")


def test_multirun_with_overrides_on_both_sides_of_the_flag(proj):
    mlplat(proj, "train", "evaluation=fast", "-m", "model=logreg,knn", "-cd", "../more_conf", "dataset=customers2")
    [sweep] = [s for s in json.loads(mlplat(proj, "sweeps", "list", "--format", "json").stdout)]
    assert (sweep["n_done"], sweep["n_failed"]) == (2, 0)


def test_shell_completion_installs_and_answers(proj):
    script = mlplat(proj, "train", "-sc", "install=bash").stdout
    assert "complete -o nospace -o default -F hydra_bash_completion mlplat" in script
    assert "-sc query=bash" in script
    # what the installed script runs when the user presses tab after `mlplat train mod`
    answer = mlplat(proj, "-sc", "query=bash", COMP_LINE="mlplat train mod", COMP_POINT="16").stdout.split()
    assert "model=" in answer
    options = mlplat(proj, "--shell-completion", "query=bash", COMP_LINE="mlplat train dataset=cu",
                     COMP_POINT="24").stdout.split()
    assert "dataset=customers" in options and "dataset=breast_cancer" not in options
    shipped = mlplat(proj, "-sc", "query=bash", COMP_LINE="mlplat train model=", COMP_POINT="19").stdout.split()
    assert {"model=xgboost", "model=lightgbm", "model=logreg"} <= set(shipped)  # the shipped library's options


def test_info(proj):
    out = mlplat(proj, "train", "--info").stdout
    assert "Config search path" in out and "pkg://mlplat_conf" in out and "Defaults List" in out
    defaults = mlplat(proj, "train", "-i", "defaults").stdout
    assert "dataset/customers" in defaults and "Config search path" not in defaults


def test_cfg_resolve_and_package(proj):
    raw = mlplat(proj, "train", "--cfg", "job").stdout
    assert "${mlplat_default_metric:" in raw  # interpolations shown as written
    resolved = mlplat(proj, "train", "-c", "job", "--resolve").stdout
    assert "primary: roc_auc" in resolved and "${" not in resolved
    model = mlplat(proj, "train", "--cfg", "job", "--package", "model").stdout
    assert model.lstrip().startswith("# @package model") and "dataset:" not in model
    assert "sweeper:" in mlplat(proj, "train", "-c", "hydra", "-p", "hydra").stdout


@pytest.mark.parametrize("overrides,needle", [
    (["model.classifier=os.system"], "runtime.allowed_modules"),
    (["model=random_forest", "model.params.n_estimators=-3"], "n_estimators"),
    (["model=xgboost", "+model.params.n_estimatorz=3"], "n_estimatorz"),
    (["model=lightgbm", "+model.params.num_leavez=3"], "num_leavez"),
    (["model=catboost", "+model.params.depthh=3"], "depthh"),
])
def test_pre_checks_run_under_cfg_and_create_nothing(tmp_path, overrides, needle):
    root = customers_project(tmp_path / "p")
    line = one_error_line(mlplat(root, "train", "--cfg", "job", *overrides, check=False))
    assert needle in line
    assert not (root / "runs").exists()
