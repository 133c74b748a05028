"""`mlplat check`: every config of the tree composes and validates, before anything trains.

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
each, eight in the shipped tree) run in a forked worker process (``_Worker``) while this
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
import multiprocessing
import os
import re
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlplat.errors import MlplatError

# groups whose options change what trains: each option is built (estimator, metrics, files)
TRAINING_GROUPS = ("dataset", "features", "model", "evaluation")
# what the training checks read of a config (mlplat.ops.runs.check_config, the estimator build)
TRAINING_KEYS = ("dataset", "features", "model", "evaluation", "seed", "runtime")
# groups Hydra composes with a defaults list of their own (presets): checked by a real composition
PRESET_GROUPS = ("experiment", "sweep")
# Hydra plugin configs (launchers need optional extras installed): not composed here
SKIPPED_GROUPS = ("launcher",)
SAMPLE_ROWS = 2000
KEY_RE = re.compile(r"\bat ([A-Za-z_][\w.\[\]]*)")
ENV_MISSING_RE = re.compile(r"Environment variable '([A-Za-z_][A-Za-z0-9_]*)' not found")


@dataclass(frozen=True)
class Problem:
    file: str
    key: str
    problem: str
    kind: str

    def line(self) -> str:
        return f"{self.file}: {self.key}: {self.problem}"


@dataclass
class Report:
    problems: list[Problem] = dataclasses.field(default_factory=list)
    checked: dict[str, int] = dataclasses.field(default_factory=dict)
    sweeps: dict[str, int | None] = dataclasses.field(default_factory=dict)
    # options that read a required environment variable this shell does not set: variable -> files
    needs_env: dict[str, list[str]] = dataclasses.field(default_factory=dict)
    # options whose estimator comes from an extra not installed here (pip install 'mlplat[x]'): extra -> files
    needs_extra: dict[str, list[str]] = dataclasses.field(default_factory=dict)

    def add(self, file: str, key: str, problem: str, kind: str) -> None:
        self.problems.append(Problem(file, key or "-", problem, kind))

    def count(self, what: str) -> None:
        self.checked[what] = self.checked.get(what, 0) + 1

    def to_dict(self) -> dict[str, Any]:
        return {"ok": not self.problems, "problems": [dataclasses.asdict(p) for p in self.problems],
                "checked": self.checked, "sweeps": self.sweeps, "needs_env": self.needs_env,
                "needs_extra": self.needs_extra}


def _rel(path: Path) -> str:
    """A file's name as a user reads it: relative to the project, else to the layer holding it."""
    from mlplat.config.compose import config_dirs, project

    path = path.resolve()
    for base in (project().base, *(d.parent for d in config_dirs())):
        try:
            return str(path.relative_to(base.resolve()))
        except ValueError:
            continue
    return str(path)


def _where(relative: str) -> str:
    """The file a config path (e.g. "registry/default.yaml") comes from, named as ``_rel`` names it."""
    from mlplat.config.compose import find_config

    found = find_config(relative)
    return _rel(found) if found else f"conf/{relative}"


def _key_of(exc: BaseException) -> str:
    m = KEY_RE.search(str(exc))
    return m.group(1) if m else "-"


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
        report.add(where, _key_of(exc), str(exc), "compose")


# -- data ----------------------------------------------------------------------------------
def _sample(dataset: dict, rows: int):
    """At most ``rows`` rows of the dataset, and whether that is all of it."""
    import pandas as pd

    from mlplat.data import sources

    source = str(dataset["source"])
    if source == "csv":
        path = sources._local_path(dataset)
        frame = pd.read_csv(path, nrows=rows + 1, **dict(dataset.get("read_options") or {}))
    elif source == "parquet":
        import pyarrow.parquet as pq

        path = sources._local_path(dataset)
        columns = (dataset.get("read_options") or {}).get("columns")
        batch = next(pq.ParquetFile(path).iter_batches(batch_size=rows + 1, columns=columns), None)
        frame = batch.to_pandas() if batch is not None else pd.DataFrame()
    elif source == "sql":
        query = str(dataset.get("query") or "").strip().rstrip(";")
        limited = {**dataset, "query": f"SELECT * FROM ({query}) AS mlplat_check LIMIT {rows + 1}"} if query else dataset
        frame = sources.load(limited)
    else:  # sklearn / synthetic: generated in memory, already small
        frame = sources.load(dataset)
    complete = len(frame) <= rows
    return frame.head(rows), complete


def _check_data(dataset: dict, where: str, report: Report, rows: int) -> None:
    from mlplat.data import validation
    from mlplat.errors import DataError

    try:
        frame, complete = _sample(dataset, rows)
        # min_rows speaks of the whole dataset: a truncated sample cannot break it
        cfg = dataset if complete else {**dataset, "min_rows": min(int(dataset.get("min_rows") or 1), len(frame))}
        validation.validate(frame, cfg)
        report.count("datasets sampled")
    except DataError as exc:
        report.add(where, "columns" if "schema" in str(exc) else "source", str(exc), "data")
    except MlplatError as exc:
        report.add(where, "source", str(exc), "data")
    except Exception as exc:  # a reader's own error (parse error, driver): one line
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        report.add(where, "source", f"dataset {dataset.get('name')!r} cannot be read: {first}; fix the source "
                                    f"or the dataset's read options", "data")


# -- cross-references ----------------------------------------------------------------------
def _check_registry(plain: dict, report: Report) -> None:
    from mlplat.evaluation.metrics import METRICS
    from mlplat.registry.policy import NOT_COMPARABLE
    from mlplat.registry.versions import ALIAS_RE

    reg = plain.get("registry") or {}
    where = _where("registry/default.yaml")
    access = plain.get("access") or {}
    roles = set(access.get("roles") or {}) | {"admin"}
    if reg.get("roles") or reg.get("rollback_roles"):
        report.add(where, "roles", "registry.roles and rollback_roles moved to conf/access/default.yaml (roles, "
                                   "operations.rollback): move them there", "registry")
    for op, listed in (access.get("operations") or {}).items():
        for role in listed or []:
            if role not in roles:
                report.add(_where("access/default.yaml"), f"operations.{op}", f"role {role!r} is not defined in "
                           f"`roles` (defined: {', '.join(sorted(roles))}); add it there or fix the name", "registry")

    def role_refs(key: str, listed: list | None) -> None:
        for role in listed or []:
            if role != "*" and role not in roles:
                report.add(where, key, f"role {role!r} is not defined in `roles` (defined: "
                                       f"{', '.join(sorted(roles)) or 'none'}); add it there or fix the name",
                           "registry")

    targets = reg.get("targets") or {}
    for target, tp in targets.items():
        key = f"targets.{target}"
        if not ALIAS_RE.match(str(target)):
            report.add(where, key, f"alias {target!r} is not a valid alias name: use letters, digits, '_', '-' "
                                   "starting with a letter", "registry")
        role_refs(f"{key}.requester_roles", tp.get("requester_roles"))
        role_refs(f"{key}.approver_roles", tp.get("approver_roles"))
        if int(tp.get("approvals") or 0) > 0 and not tp.get("approver_roles"):
            report.add(where, f"{key}.approver_roles", f"{tp.get('approvals')} approval(s) needed but no approver "
                                                       "role: nobody could approve; list the roles that may",
                       "registry")
        gates = tp.get("gates") or {}
        if str(gates.get("stage") or "holdout") not in ("holdout", "cv"):
            report.add(where, f"{key}.gates.stage", f"stage {gates.get('stage')!r} is not holdout or cv", "registry")
        for metric in gates.get("thresholds") or {}:
            if metric not in METRICS:
                report.add(where, f"{key}.gates.thresholds.{metric}", f"unknown metric {metric!r}: expected one "
                                                                      f"of {', '.join(METRICS)}", "registry")
        beat = gates.get("beat_champion") or {}
        if beat:
            if beat.get("metric") and beat["metric"] not in METRICS:
                report.add(where, f"{key}.gates.beat_champion.metric", f"unknown metric {beat['metric']!r}: "
                                                                       f"expected one of {', '.join(METRICS)}",
                           "registry")
            if (beat.get("on_not_comparable") or "review") not in NOT_COMPARABLE:
                report.add(where, f"{key}.gates.beat_champion.on_not_comparable",
                           f"{beat.get('on_not_comparable')!r} is not one of {', '.join(NOT_COMPARABLE)}", "registry")
    auto = reg.get("auto_register") or {}
    if auto.get("enabled") and not auto.get("name"):
        report.add(where, "auto_register.name", "auto-registration is enabled but no model name is set", "registry")
    # aliases other groups promote to must have a policy
    refs = [(_where("ci/default.yaml"), "target", (plain.get("ci") or {}).get("target")),
            (_where("bot/default.yaml"), "alerts.retrain.target",
             (((plain.get("bot") or {}).get("alerts") or {}).get("retrain") or {}).get("target")),
            (_where("monitor/default.yaml"), "retrain.request_to",
             ((plain.get("monitor") or {}).get("retrain") or {}).get("request_to"))]
    for file, key, alias in refs:
        if alias and alias not in targets:
            report.add(file, key, f"alias {alias!r} has no promotion policy in conf/registry targets (has "
                                  f"{', '.join(sorted(targets)) or 'none'}); add targets.{alias} or fix the name",
                       "registry")
    report.count("registry policies")


def _key_exists(key: str, configs: list[dict]) -> bool:
    for cfg in configs:
        node: Any = cfg
        for part in key.split("."):
            if not isinstance(node, dict) or part not in node:
                break
            node = node[part]
        else:
            return True
    return False


def _check_bot(plain: dict, options: dict[str, list[dict]], report: Report) -> None:
    where = _where("bot/default.yaml")
    bot = plain.get("bot") or {}
    # who may do what from chat is conf/access (mlplat.ops.access), like every other door
    for key in ("roles", "grants"):
        if bot.get(key):
            report.add(where, key, f"bot.{key} moved to the one roles table: list Slack users as slack:U... and "
                                   "groups as slack-group:S... under roles in conf/access/default.yaml", "bot")
    allow = bot.get("allow") or {}
    max_jobs = allow.get("max_sweep_jobs")
    if not isinstance(max_jobs, int) or max_jobs < 1:
        report.add(where, "allow.max_sweep_jobs", f"must be a whole number >= 1, got {max_jobs!r}", "bot")
    from mlplat.config.compose import is_group

    for group in allow.get("groups") or []:
        if not is_group(str(group)):
            report.add(where, "allow.groups", f"config group {group!r} does not exist under conf/; remove it or "
                                              "fix the name", "bot")
    for key in allow.get("params") or {}:
        group = key.split(".", 1)[0]
        configs = [plain, *options.get(group, [])]
        if not _key_exists(key, configs):
            report.add(where, f"allow.params.{key}", f"key {key!r} exists in no config of the tree (looked in the "
                                                     f"defaults and every {group} option); fix the key", "bot")
    report.count("bot allow-lists")


def _check_monitor(plain: dict, report: Report) -> None:
    from mlplat.monitoring.settings import load

    try:
        load(plain.get("monitor"))
    except MlplatError as exc:
        report.add(_where("monitor/default.yaml"), _key_of(exc), str(exc), "monitor")


def _check_ci(plain: dict, report: Report) -> None:
    from mlplat.ci.settings import load

    try:
        load(plain)
    except MlplatError as exc:
        report.add(_where("ci/default.yaml"), _key_of(exc), str(exc), "ci")


def _check_targets(report: Report) -> None:
    """Every ``_target_`` written in a YAML file names a module that can be imported."""
    from mlplat.config.compose import config_dirs

    for path in sorted({p for d in config_dirs() for p in d.rglob("*.yaml")}):
        for m in re.finditer(r"^\s*_target_:\s*['\"]?([\w.]+)", path.read_text(), re.M):
            module = m.group(1).rsplit(".", 1)[0]
            try:
                found = importlib.util.find_spec(module) is not None
            except (ImportError, ValueError):
                found = False
            if not found:
                report.add(_rel(path), "_target_", f"module {module!r} of {m.group(1)!r} cannot be imported; "
                                                   "install the package that provides it or fix the path", "target")


# -- the pass --------------------------------------------------------------------------------
def _options(layers: list[Path], group: str) -> list[Path]:
    """Each option of ``group`` once, from the first layer holding it (the file Hydra uses)."""
    seen: dict[str, Path] = {}
    for d in layers:
        for path in sorted((d / group).glob("*.yaml")) if (d / group).is_dir() else []:
            seen.setdefault(path.stem, path)
    return [seen[k] for k in sorted(seen)]



# -- presets (experiments, sweeps): composed by Hydra, in a worker process where one can fork --
Preset = tuple[str, Path, "dict | None", "int | None", "MlplatError | None"]


def _compose_presets(presets: list[tuple[str, Path]], plan_sweep: Callable[[list[str]], Any]) -> list[Preset]:
    """Each experiment composed to its plain config, each sweep planned (counted, never expanded)."""
    from mlplat.config.compose import compose, to_plain

    out: list[Preset] = []
    for kind, path in presets:
        try:
            if kind == "experiment":
                out.append((kind, path, to_plain(compose([f"experiment={path.stem}"])), None, None))
            else:
                out.append((kind, path, None, plan_sweep([f"sweep={path.stem}"]).total, None))
        except MlplatError as exc:
            out.append((kind, path, None, None, MlplatError(str(exc))))  # plain: crosses the process boundary
    return out


class _Task:
    """One part of the check run by the worker process, or here on first ask if none could start."""

    def __init__(self, worker: _Worker, fn: Callable[..., Any], args: tuple) -> None:
        self._fn, self._args = fn, args
        self._future: Future | None = None
        if worker.pool is not None:
            try:
                self._future = worker.pool.submit(fn, *args)
            except RuntimeError:  # the pool broke (a worker died): run here
                self._future = None

    def result(self) -> Any:
        if self._future is not None:
            try:
                return self._future.result()
            except Exception:  # noqa: BLE001 - the worker died (killed, out of memory): run here
                pass
        return self._fn(*self._args)


class _Worker:
    """A forked worker process for a part of the check that needs none of this process's later work
    (the presets), while this process imports the estimator libraries (scikit-learn alone: 1.6 s)."""

    def __init__(self) -> None:
        self.pool: ProcessPoolExecutor | None = None
        if (os.cpu_count() or 1) > 1 and "fork" in multiprocessing.get_all_start_methods():
            try:
                self.pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("fork"))
            except (OSError, RuntimeError):  # no process to spare: everything runs here
                self.pool = None

    def submit(self, fn: Callable[..., Any], *args: Any) -> _Task:
        return _Task(self, fn, args)

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=False, cancel_futures=True)
            self.pool = None


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
