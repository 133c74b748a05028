"""`mlplat check`: every config of the tree composes and validates, before anything trains.

This module holds the pass and the group options; beside it: ``check_report`` (what a problem
says), ``check_data`` (dataset samples), ``check_refs`` (cross-references between groups) and
``check_worker`` (the presets, composed in a worker process).

One pass over ``conf/``: each option of each group composed with the defaults, each
experiment and sweep preset composed (sweeps counted, never expanded), each dataset sampled
and checked against its schema, and the cross-references between groups (registry roles,
aliases and metrics; schedule triggers and job types; the bot's allow-list) resolved. Every
problem is one line naming the file, the key, what is wrong and the fix; the run goes on
after a problem so one pass lists them all.

Speed: a Hydra composition is the dominant cost (431 ms per option against 34 ms for the
merge below, measured under load average 7.8 on 2 cores), so only configs with a defaults
list (the defaults, experiments, sweeps) are composed by Hydra; a plain group option is
merged into its group's structured schema on top of the composed defaults, which is what
Hydra's merge does for a file without a defaults list. The presets' compositions (~0.2 s
each, eight in the shipped tree) run in a forked worker process (mlplat/ci/check_worker.py) while this
process imports the estimator libraries and checks the group options: the two halves are
about the same size, so on two cores the wall time is about two thirds of the CPU time
(5.2 -> 3.3 s for `--no-data` on the shipped tree, benchmarks/ci_check). Where fork is
unavailable, or the machine has one core, they run here, one after the other.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import importlib.util
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from mlplat.ci.check_data import SAMPLE_ROWS, _check_data
from mlplat.ci.check_refs import _check_bot, _check_ci, _check_monitor, _check_registry, _check_targets
from mlplat.ci.check_report import Report, _key_of, _rel, _where
from mlplat.ci.check_worker import _compose_presets, _Worker
from mlplat.errors import MlplatError

# groups whose options change what trains: each option is built (estimator, metrics, files)
TRAINING_GROUPS = ("dataset", "features", "model", "evaluation")
# what the training checks read of a config (mlplat.ops.runs.check_config, the estimator build)
TRAINING_KEYS = ("dataset", "features", "model", "evaluation", "seed", "runtime")
# groups Hydra composes with a defaults list of their own (presets): checked by a real composition
PRESET_GROUPS = ("experiment", "sweep")
# Hydra plugin configs (launchers need optional extras installed): not composed here
SKIPPED_GROUPS = ("launcher",)
ENV_MISSING_RE = re.compile(r"Environment variable '([A-Za-z_][A-Za-z0-9_]*)' not found")


@functools.cache
def _schema_class(group: str):
    import typing

    from mlplat.config.schema import MlplatConfig

    cls = typing.get_type_hints(MlplatConfig).get(group)
    return cls if isinstance(cls, type) and dataclasses.is_dataclass(cls) else None


def _schema_node(group: str):
    """The typed (structured) empty node Hydra merges a ``group`` option into, or None (Any)."""
    from omegaconf import OmegaConf

    cls = _schema_class(group)
    return OmegaConf.structured(cls) if cls is not None else None


def _needs_hydra(raw: Any, text: str) -> bool:
    return "defaults" in raw or text.lstrip().startswith("# @package") or "\n# @package" in text[:500]


def _option_plain(base, group: str, path: Path, report: Report) -> dict | None:
    """The whole config with ``group`` set to the option at ``path``; None (and a problem) if it fails."""
    from omegaconf import OmegaConf

    from mlplat.config.compose import compose, to_plain, translate

    where = _rel(path)
    try:
        text = path.read_text()
        raw = OmegaConf.create(text) if text.strip() else OmegaConf.create({})
        if _needs_hydra(raw, text):
            return to_plain(compose([f"{group}={path.stem}"]))
        schema = _schema_node(group)
        node = OmegaConf.merge(schema, raw) if schema is not None else raw
        # swap the option into the composed defaults and resolve only the nodes the checks read
        # (copying and resolving the whole tree per option: 21 ms CPU against 11 ms, measured)
        original = copy.deepcopy(base[group])  # assignment may write into the node itself
        base[group] = node
        try:
            return {key: _resolved(base, key) for key in (TRAINING_KEYS if group in TRAINING_GROUPS else (group,))}
        finally:
            base[group] = original
    except MlplatError as exc:
        report.add(where, _key_of(exc), str(exc), "compose")
    except Exception as exc:  # OmegaConf/YAML errors: translated to one line
        missing = ENV_MISSING_RE.search(str(exc))
        if missing:  # e.g. tracking=team's MLPLAT_STORE_URL: set where that option runs, not a config error
            report.needs_env.setdefault(missing.group(1), []).append(where)
            return None
        err = translate(exc)
        report.add(where, _key_of(err), str(err), "compose")
    return None


def _resolved(cfg, key: str) -> Any:
    from omegaconf import DictConfig, ListConfig, OmegaConf

    node = cfg[key]
    if isinstance(node, DictConfig | ListConfig):
        return OmegaConf.to_container(node, resolve=True, throw_on_missing=True, enum_to_str=True)
    return getattr(node, "value", node)


def _allowed_modules(plain: dict) -> tuple[str, ...]:
    from mlplat.models.build import DEFAULT_ALLOWED

    return tuple((plain.get("runtime") or {}).get("allowed_modules") or DEFAULT_ALLOWED)


def _import_problem(path: str, allowed: tuple[str, ...]) -> str | None:
    """Why the class at ``path`` ('pkg.module.Class') cannot be imported, or None (also for an empty path)."""
    module, _, name = path.rpartition(".")
    if not path or not module:
        return None
    from mlplat.models.build import _allowed

    if not _allowed(path, allowed):
        return None  # the allow-list check names it (build_estimator)
    try:
        mod = importlib.import_module(module)
    except ImportError as exc:
        return f"does not import ({exc})"
    return None if hasattr(mod, name) else f"does not import (module {module!r} has no {name!r})"


def _check_training(plain: dict, where: str, report: Report, check_config: Callable[[dict], None]) -> None:
    from mlplat.models.build import EXTRAS, build_estimator

    model = plain["model"]
    missing_extra = False
    for key in ("classifier", "regressor"):
        path = str(model.get(key) or "")
        root = path.split(".", 1)[0]
        if root in EXTRAS and importlib.util.find_spec(root) is None:
            # a shipped option for an optional stack (LightGBM, CatBoost) this install left out:
            # not a broken config; said in a note, and its checks run where the extra is installed
            report.needs_extra.setdefault(EXTRAS[root], []).append(where)
            missing_extra = True
            continue
        problem = _import_problem(path, _allowed_modules(plain))
        if problem:
            report.add(where, key, f"model {model['name']!r}: {key} {model[key]!r} {problem}; install the package "
                                   "that provides it or fix the path", "target")
            return
    if missing_extra:
        return
    try:
        check_config(plain)
        # the task the defaults did not exercise: both declared estimators must import and build
        for task, key in (("classification", "classifier"), ("regression", "regressor")):
            if model.get(key) and task != str(plain["dataset"]["task"]):
                build_estimator(model, task, plain["seed"], 1, allowed=_allowed_modules(plain))
    except MlplatError as exc:
        if not report.missing_shipped_data(where, exc):
            report.add(where, _key_of(exc), str(exc), "compose")


def _shipped_only(layers: list[Path]) -> Path | None:
    """The shipped library's folder when it is a layer of its own (a project beside an installed mlplat)."""
    from mlplat.project import shipped_conf

    shipped = shipped_conf().resolve()
    others = [d.resolve() for d in layers if d.resolve() != shipped]
    return shipped if others and len(others) < len(layers) else None


# -- the pass --------------------------------------------------------------------------------
def _options(layers: list[Path], group: str) -> list[Path]:
    """Each option of ``group`` once, from the first layer holding it (the file Hydra uses)."""
    seen: dict[str, Path] = {}
    for d in layers:
        for path in sorted((d / group).glob("*.yaml")) if (d / group).is_dir() else []:
            seen.setdefault(path.stem, path)
    return [seen[k] for k in sorted(seen)]



def check_tree(*, check_config: Callable[[dict], None], plan_sweep: Callable[[list[str]], Any],
               extra: Sequence[tuple[str, str, Callable[[dict], list[tuple[str, str]]]]] = (), data: bool = True,
               sample_rows: int = SAMPLE_ROWS) -> Report:
    """Check the config tree (see the module docstring); never raises for a problem in it.

    ``check_config`` and ``plan_sweep`` are the operations `mlplat train` pre-checks with
    (mlplat.ops passes them); ``extra`` are (file, kind, checker) for groups whose rules live
    in a front door (the schedule): a checker returns (key, problem) pairs.
    """
    from mlplat.config.compose import config_dirs

    layers = config_dirs()
    worker = _Worker()
    try:
        return _check_tree(worker, layers, check_config, plan_sweep, extra, data, sample_rows)
    finally:
        worker.close()


def _check_tree(worker: _Worker, layers: list[Path], check_config: Callable[[dict], None],
                plan_sweep: Callable[[list[str]], Any], extra: Sequence, data: bool, sample_rows: int) -> Report:
    from mlplat.config.compose import compose, to_plain

    report = Report()
    shipped = _shipped_only(layers)
    if shipped is not None:  # a project file of the same name wins over the shipped one (never checked then)
        report.shipped = {_rel(p) for p in shipped.rglob("*.yaml")}
    presets = worker.submit(_compose_presets, [("experiment", p) for p in _options(layers, "experiment")]
                            + [("sweep", p) for p in _options(layers, "sweep")], plan_sweep)
    try:
        base = compose([])
        base_plain = to_plain(base)
    except MlplatError as exc:
        report.add(_where("config.yaml"), _key_of(exc), f"the defaults do not compose: {exc}", "compose")
        return report
    options: dict[str, list[dict]] = {}
    datasets: dict[str, dict] = {}
    groups = sorted({p.name for d in layers for p in d.iterdir() if p.is_dir()
                     and not p.name.startswith((".", "_", "hydra"))})
    for group in groups:
        if group in PRESET_GROUPS or group in SKIPPED_GROUPS:
            continue
        for path in _options(layers, group):
            plain = _option_plain(base, group, path, report)
            report.count("options")
            if plain is None:
                continue
            options.setdefault(group, []).append(plain)
            if group in TRAINING_GROUPS:
                _check_training(plain, _rel(path), report, check_config)
            if group == "dataset":
                datasets[_rel(path)] = plain["dataset"]
    for kind, path, plain, total, problem in presets.result():
        where = _rel(path)
        if kind == "experiment":
            report.count("experiments")
            if problem is not None:
                report.add(where, _key_of(problem), str(problem), "experiment")
            else:
                _check_training(plain, where, report, check_config)
        elif problem is not None:
            report.add(where, _key_of(problem), str(problem), "sweep")
        else:
            report.sweeps[path.stem] = total
            report.count("sweeps")
    _check_registry(base_plain, report)
    for file, kind, checker in extra:
        for key, problem in checker(base_plain):
            report.add(file, key, problem, kind)
    _check_bot(base_plain, options, report)
    _check_monitor(base_plain, report)
    _check_ci(base_plain, report)
    _check_targets(report)
    if data:  # here, not in the worker: this process has pandas imported by now (0.07 s against 1.3 s there)
        for where, dataset in datasets.items():
            _check_data(dataset, where, report, sample_rows)
    return report
