"""In-process tests of the sweeper's pieces: search-space parsing, naming, direction, storage."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path
from typing import Any

import optuna
import pytest
from hydra.core.config_store import ConfigStore
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.utils import JobReturn, JobStatus
from omegaconf import OmegaConf
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from hydra_plugins.mlplat_optuna_sweeper import SearchSpaceError, SweeperConfigError
from hydra_plugins.mlplat_optuna_sweeper._impl import objective_value
from hydra_plugins.mlplat_optuna_sweeper._search_space import format_value, parse_search_space
from hydra_plugins.mlplat_optuna_sweeper._study import (
    build_sampler,
    derive_study_name,
    normalize_sqlite_url,
    resolve_direction,
    resolve_storage,
)

# ---------------------------------------------------------------------------- override values


@pytest.mark.parametrize(
    "value",
    ["plain", "true", "null", "a b", "c,d", "it's", 'say "hi"', "x=y", "", 3, -7, 0.1, 1e-5, 1e20, True, None,
     [1, "a b"], {"k": 1, "s": "t u"}],
)  # fmt: skip
def test_format_value_round_trips_through_hydras_parser(value: Any) -> None:
    text = format_value(value)
    parsed = OverridesParser.create().parse_override(f"k={text}").value()
    assert parsed == value and type(parsed) is type(value)


# ------------------------------------------------------------------------------- search space


def test_grammar_forms_become_the_expected_distributions() -> None:
    space = parse_search_space(
        {
            "a": "interval(0.01, 1)",
            "b": "tag(log, interval(1e-4, 1))",
            "c": "int(interval(2, 10))",
            "d": "tag(log, int(interval(1, 1000)))",
            "e": "choice(x, y, 3)",
            "f": "range(1, 5)",
            "g": "range(0, 1, 0.25)",
            "h": "shuffle(range(1, 4))",
        },
        [],
    )
    dists = space.distributions
    assert dists["a"] == FloatDistribution(0.01, 1.0)
    assert dists["b"] == FloatDistribution(1e-4, 1.0, log=True)
    assert dists["c"] == IntDistribution(2, 10)
    assert dists["d"] == IntDistribution(1, 1000, log=True)
    assert dists["e"] == CategoricalDistribution(["x", "y", 3])
    assert dists["f"] == IntDistribution(1, 4)  # range() excludes its stop, like Python's
    assert dists["g"] == FloatDistribution(0.0, 0.75, step=0.25)
    assert dists["h"] == CategoricalDistribution([1, 2, 3])


def test_dict_form_and_fixed_values() -> None:
    space = parse_search_space(
        {
            "lr": {"type": "float", "low": 1e-4, "high": 1, "log": True},
            "depth": {"type": "int", "low": 2, "high": 8, "step": 2},
            "kind": {"type": "categorical", "choices": ["a", [1, 2]]},
            "n_estimators": 300,
            "name": "fixed_name",
        },
        [],
    )
    assert space.distributions["lr"] == FloatDistribution(1e-4, 1.0, log=True)
    assert space.distributions["depth"] == IntDistribution(2, 8, step=2)
    assert space.fixed == {"n_estimators": "n_estimators=300", "name": "name=fixed_name"}
    assert space.overrides({"lr": 0.01, "depth": 4, "kind": "[1,2]"}) == [
        "lr=0.01",
        "depth=4",
        "kind=[1,2]",
        "n_estimators=300",
        "name=fixed_name",
    ]


def test_command_line_overrides_win_over_the_preset() -> None:
    space = parse_search_space(
        {"lr": "interval(0, 1)", "depth": "int(interval(2, 10))"},
        ["lr=0.5", "depth=int(interval(3, 4))", "+extra=choice(u, v)", "model=xgboost"],
    )
    assert set(space.params) == {"depth", "extra"}
    assert space.distributions["depth"] == IntDistribution(3, 4)
    assert space.params["extra"].key == "+extra"
    assert space.fixed == {"lr": "lr=0.5", "model": "model=xgboost"}
    assert space.overrides({"depth": 3, "extra": "u"}) == ["depth=3", "+extra=u", "lr=0.5", "model=xgboost"]


def test_stepped_float_values_are_written_without_float_noise() -> None:
    space = parse_search_space({"g": "range(0, 1, 0.1)"}, [])
    assert space.params["g"].override(0.30000000000000004) == "g=0.3"
    assert space.params["g"].grid_values()[3] == 0.3


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"x": "interval(1)"}, "hydra.sweeper.params.x=interval(1): TypeError while evaluating"),
        ({"x": "interval(2, 1)"}, "hydra.sweeper.params.x=interval(2, 1): `low <= high` must hold"),
        ({"x": "tag(log, interval(0, 1))"}, "hydra.sweeper.params.x=tag(log, interval(0, 1)): `low > 0`"),
        ({"x": "range(5, 1)"}, "hydra.sweeper.params.x=range(5, 1): the range is empty"),
        (
            {"x": "tag(log, range(1, 5))"},
            "hydra.sweeper.params.x=tag(log, range(1, 5)): tag(log, ...) applies",
        ),
        ({"x": "glob(*)"}, "hydra.sweeper.params.x=glob(*): this sweep is not supported"),
        ({"x": {"type": "float", "low": 1}}, "hydra.sweeper.params.x={'type': 'float', 'low': 1}: a float"),
        ({"x": {"type": "normal"}}, "hydra.sweeper.params.x={'type': 'normal'}: type must be"),
        ({"x": {"type": "int", "low": 0.5, "high": 2}}, "low=0.5 is not an integer"),
        ({"x": {"type": "categorical", "choices": []}}, "needs a non-empty list of choices"),
        ({"x": {"type": "float", "low": 0, "high": 1, "size": 3}}, "unknown key(s) size"),
    ],
)
def test_malformed_entries_fail_in_one_line_naming_the_key(params: dict[str, Any], message: str) -> None:
    with pytest.raises(SearchSpaceError) as info:
        parse_search_space(params, [])
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_grid_needs_discrete_parameters() -> None:
    space = parse_search_space({"a": "choice(1, 2)", "b": "int(interval(1, 3))"}, [])
    assert space.grid() == {"a": [1, 2], "b": [1, 2, 3]}
    with pytest.raises(SearchSpaceError, match="grid sampler needs discrete values"):
        parse_search_space({"a": "interval(0, 1)"}, []).grid()


def test_probe_overrides_cover_every_choice() -> None:
    space = parse_search_space({"m": "choice(knn, xgboost, logreg)", "x": "interval(0, 1)"}, ["seed=1"])
    probes = space.probe_overrides()
    assert {p[0] for p in probes} == {"m=knn", "m=xgboost", "m=logreg"}
    assert all(p[1:] == ["x=0.0", "seed=1"] for p in probes)


# ---------------------------------------------------------------------------------- study name


def test_study_name_is_stable_and_tracks_the_problem() -> None:
    def name(params: dict[str, Any], args: list[str], direction: str = "minimize") -> str:
        return derive_study_name("config", direction, parse_search_space(params, args), None)

    base = name({"x": "interval(0, 1)"}, ["+experiment=a"])
    assert base.startswith("mlplat-") and len(base) == len("mlplat-") + 12
    assert name({"x": "interval(0, 1)"}, ["+experiment=a"]) == base
    assert name({}, ["x=interval(0, 1)", "+experiment=a"]) == base  # where it is declared does not matter
    assert name({"x": "interval(0, 2)"}, ["+experiment=a"]) != base
    assert name({"x": "interval(0, 1)"}, ["+experiment=b"]) != base
    assert name({"x": "interval(0, 1)"}, ["+experiment=a"], "maximize") != base


# ----------------------------------------------------------------------------------- direction


def _direction_of(name: str) -> str:
    table = {"rmse": "minimize", "roc_auc": "maximize"}
    if name not in table:
        raise KeyError(f"unknown metric {name!r}")
    return table[name]


def test_direction_follows_the_primary_metric() -> None:
    assert resolve_direction(None, "roc_auc", _direction_of) == "maximize"
    assert resolve_direction(None, "rmse", _direction_of) == "minimize"
    assert resolve_direction("maximize", "roc_auc", _direction_of) == "maximize"
    assert resolve_direction(None, None, _direction_of) == "minimize"
    assert resolve_direction(None, "rmse", None) == "minimize"  # mlplat not installed
    assert resolve_direction("maximize", "rmse", None) == "maximize"


def test_contradicting_direction_is_an_error() -> None:
    with pytest.raises(SweeperConfigError) as info:
        resolve_direction("maximize", "rmse", _direction_of)
    assert str(info.value) == (
        "hydra.sweeper.direction=maximize contradicts evaluation.primary=rmse (lower is better): "
        "remove direction or set it to minimize"
    )
    with pytest.raises(
        SweeperConfigError, match=r"\(higher is better\): remove direction or set it to maximize"
    ):
        resolve_direction("minimize", "roc_auc", _direction_of)


def test_bad_or_underivable_direction_is_an_error() -> None:
    with pytest.raises(SweeperConfigError, match="hydra.sweeper.direction=up is not valid"):
        resolve_direction("up", None, None)
    with pytest.raises(
        SweeperConfigError, match="cannot derive hydra.sweeper.direction from evaluation.primary=f2"
    ):
        resolve_direction(None, "f2", _direction_of)
    assert resolve_direction("maximize", "f2", _direction_of) == "maximize"  # explicit wins when unknown


# ------------------------------------------------------------------------------------- storage


def test_relative_sqlite_paths_are_pinned_to_the_start_directory(tmp_path: Path) -> None:
    url = normalize_sqlite_url("sqlite:///runs/mlplat.db", tmp_path)
    assert url == f"sqlite:///{tmp_path}/runs/mlplat.db"
    assert (tmp_path / "runs").is_dir()
    assert normalize_sqlite_url("sqlite:////abs/x.db", tmp_path) == "sqlite:////abs/x.db"
    assert normalize_sqlite_url("sqlite://", tmp_path) == "sqlite://"
    assert normalize_sqlite_url("sqlite:///:memory:", tmp_path) == "sqlite:///:memory:"
    pg = "postgresql+psycopg://u:p@localhost/mlplat"
    assert normalize_sqlite_url(pg, tmp_path) == pg


def test_storage_falls_back_from_tracking_url_to_memory(tmp_path: Path) -> None:
    assert resolve_storage(None, None, str(tmp_path)) == (None, "in-memory")
    assert resolve_storage("memory", "sqlite:///runs/mlplat.db", str(tmp_path)) == (None, "in-memory")
    storage, desc = resolve_storage(None, "sqlite:///runs/mlplat.db", str(tmp_path))
    assert isinstance(storage, optuna.storages.RDBStorage)
    assert desc == f"sqlite:///{tmp_path}/runs/mlplat.db"
    with pytest.raises(SweeperConfigError, match="is not a SQLAlchemy URL"):
        resolve_storage("not a url", None, str(tmp_path))


# ------------------------------------------------------------------------------- trial values


def _job(value: Any = None, error: BaseException | None = None) -> JobReturn:
    ret = JobReturn()
    ret.status = JobStatus.FAILED if error else JobStatus.COMPLETED
    ret.return_value = error if error else value
    return ret


@pytest.mark.parametrize(
    ("ret", "expected"),
    [
        (_job(0.5), (0.5, None)),
        (_job(3), (3.0, None)),
        (_job("0.25"), (0.25, None)),
        (_job({"rmse": 1.5, "mae": 1.0}), (1.5, None)),
        (_job(math.nan), (None, "returned nan")),
        (_job(math.inf), (None, "returned inf")),
        (_job(None), (None, "returned None, not a number")),
        (_job(True), (None, "returned True, not a number")),
        (_job("abc"), (None, "returned 'abc', not a number")),
        (_job({"mae": 1.0}), (None, "returned a mapping without the primary metric 'rmse'")),
        (_job(error=ValueError("bad\ninput")), (None, "raised ValueError: bad; input")),
    ],
)
def test_objective_value(ret: JobReturn, expected: tuple[float | None, str | None]) -> None:
    assert objective_value(ret, "rmse") == expected


# ------------------------------------------------------------------------------------ samplers


def _space() -> Any:
    return parse_search_space({"a": "choice(1, 2)", "b": "int(interval(1, 3))"}, [])


def test_sampler_seed_and_grid_search_space() -> None:
    tpe, is_grid = build_sampler(OmegaConf.create({"_target_": "optuna.samplers.TPESampler"}), 7, _space(), 0)
    assert isinstance(tpe, optuna.samplers.TPESampler) and not is_grid
    grid, is_grid = build_sampler(
        OmegaConf.create({"_target_": "optuna.samplers.GridSampler", "seed": None}), 1, _space(), 0
    )
    assert isinstance(grid, optuna.samplers.GridSampler) and is_grid


def test_resumed_study_shifts_the_seed_so_points_are_not_repeated() -> None:
    cfg = OmegaConf.create({"_target_": "optuna.samplers.RandomSampler", "seed": 5})
    space = parse_search_space({"x": "interval(0, 1)"}, [])

    def first_point(n_existing: int) -> float:
        sampler, _ = build_sampler(cfg, None, space, n_existing)
        study = optuna.create_study(sampler=sampler)
        return study.ask(space.distributions).params["x"]

    assert first_point(0) == first_point(0)
    assert first_point(5) != first_point(0)


@pytest.mark.parametrize(
    ("target", "message"),
    [
        (
            "optuna.samplers.NopeSampler",
            "unknown sampler hydra.sweeper.sampler._target_=optuna.samplers.NopeSampler",
        ),
        ("collections.OrderedDict", "is not an optuna.samplers.BaseSampler subclass"),
    ],
)
def test_bad_sampler_is_an_error(target: str, message: str) -> None:
    with pytest.raises(SweeperConfigError, match=message.replace(".", r"\.")):
        build_sampler(OmegaConf.create({"_target_": target}), None, _space(), 0)


def test_bad_sampler_argument_is_one_line() -> None:
    with pytest.raises(SweeperConfigError) as info:
        build_sampler(
            OmegaConf.create({"_target_": "optuna.samplers.RandomSampler", "bogus": 1}), None, _space(), 0
        )
    assert str(info.value).startswith("cannot create sampler optuna.samplers.RandomSampler:")
    assert "bogus" in str(info.value) and "\n" not in str(info.value)


@pytest.mark.skipif(importlib.util.find_spec("cmaes") is not None, reason="cmaes is installed")
def test_cmaes_without_its_package_fails_before_any_trial() -> None:
    with pytest.raises(SweeperConfigError, match="pip install cmaes"):
        build_sampler(OmegaConf.create({"_target_": "optuna.samplers.CmaEsSampler"}), None, _space(), 0)


# -------------------------------------------------------------------------------- registration


def test_configs_are_registered_under_the_documented_names() -> None:
    import hydra_plugins.mlplat_optuna_sweeper.config  # noqa: F401  (registers on import)

    repo = ConfigStore.instance().repo
    assert "mlplat_optuna.yaml" in repo["hydra"]["sweeper"]
    assert {"tpe.yaml", "random.yaml", "grid.yaml", "cmaes.yaml"} <= set(repo["hydra"]["sweeper"]["sampler"])
    node = repo["hydra"]["sweeper"]["mlplat_optuna.yaml"].node
    assert node["_target_"] == "hydra_plugins.mlplat_optuna_sweeper.optuna_sweeper.MlplatOptunaSweeper"
    assert node["max_failures"] == 3 and node["n_trials"] == 20 and node["direction"] is None


def test_hydra_discovers_the_sweeper_plugin() -> None:
    from hydra.core.plugins import Plugins
    from hydra.plugins.sweeper import Sweeper

    names = {f"{p.__module__}.{p.__name__}" for p in Plugins.instance().discover(Sweeper)}
    assert "hydra_plugins.mlplat_optuna_sweeper.optuna_sweeper.MlplatOptunaSweeper" in names
