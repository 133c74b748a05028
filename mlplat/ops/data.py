"""Operations of the data stage: profile, infer, validate and compare datasets before any training.

Every front door (`mlplat data ...`, `/mlplat profile`, the scheduler's ``data_check``) calls
these. Data comes from a declared dataset (Hydra overrides, e.g. ``dataset=churn``), a CSV or
Parquet file, a SQL query, or a registered model's training dataset (``churn@production``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mlplat.data import report, sources
from mlplat.data.compare import compare_profiles, drift_columns, schema_check
from mlplat.data.infer import infer_config
from mlplat.data.profile import profile_frame
from mlplat.errors import ConfigError, DataSourceError, MlplatError, TargetError
from mlplat.files import write_atomic
from mlplat.ops.common import compose_plain, open_store
from mlplat.project import find_project
from mlplat.tracking.artifacts import read_verified

__all__ = ["compare_dataset", "compare_frames", "compare_to_state", "data_check", "extract_state", "infer_dataset",
           "profile_dataset", "render_profile", "run_data_profile", "validate_dataset"]

Progress = Callable[[str, int, int], None]
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def _dataset(overrides: list[str] | None) -> dict[str, Any]:

    return compose_plain(list(overrides or []))["dataset"]


def _load(dataset: dict[str, Any]):
    return sources.load(dataset)


def _read(path: str, role: str):

    return sources.read_file(path, role)


def _check_target(df, target: str | None, where: str) -> None:
    if target is not None and target not in df.columns:
        cols = [str(c) for c in df.columns]
        raise TargetError(f"target {target!r} is not a column of {where}; columns are "
                          f"{', '.join(cols[:12])}{'...' if len(cols) > 12 else ''}")


def _need_rows(df, where: str) -> None:
    if len(df) == 0:
        raise DataSourceError(f"{where} has no rows: nothing to profile")


def _model_dataset(ref: str, store) -> tuple[dict[str, Any], str]:
    # the registry and the store (SQLAlchemy, ~0.4 s) only for --model
    from mlplat.registry import versions
    from mlplat.tracking.runs import get_run

    store = store or open_store()
    v = versions.get(store, versions.parse_ref(ref))
    dataset = (get_run(store, v["run_id"]).get("config") or {}).get("dataset")
    if not dataset:
        raise MlplatError(f"run {v['run_id']} of {v['name']}:{v['version']} has no dataset config recorded")
    return dataset, f"{v['name']}:{v['version']} (run {v['run_id']}, dataset fingerprint {str(v['dataset_fingerprint'])[:12]})"


def profile_dataset(*, overrides: list[str] | None = None, input: str | None = None, target: str | None = None,
                    task: str | None = None, model: str | None = None, progress: Progress | None = None,
                    store=None, dataset: dict[str, Any] | None = None) -> dict[str, Any]:
    """The full profile of a declared dataset, a file or a registered model's dataset.

    ``dataset`` is an already composed dataset config (instead of ``overrides``). Returns
    ``{"profile", "title", "source", "dataset"}``; the target defaults to the dataset's (a
    file has none unless ``target`` is given).
    """

    if sum(x is not None for x in (input, model)) > 1:
        raise ConfigError("give one of --input FILE or --model NAME@ALIAS (or dataset=NAME overrides), not both")
    if input is not None:
        df, where, dataset = _read(input, "input"), f"file {input}", None
    else:
        if model is not None:
            dataset, where = _model_dataset(model, store)
        else:
            dataset = dataset or _dataset(overrides)
            where = f"dataset {dataset['name']} ({dataset['source']})"
        df = _load(dataset)
    _need_rows(df, where)
    if dataset is not None:
        target = target or dataset.get("target")
        task = task or dataset.get("task")
    _check_target(df, target, where)
    profile = profile_frame(df, target=target, task=task, progress=progress,
                            declared_ids=[(dataset or {}).get("id_column")])
    name = dataset["name"] if dataset else Path(input or "data").name
    return {"profile": profile, "title": f"Data profile: {name}", "source": where,
            "dataset": dataset["name"] if dataset else None}


def render_profile(result: dict[str, Any], fmt: str) -> str:
    """``result`` of profile_dataset as html | json | md."""

    if fmt == "html":
        return report.to_html(result["profile"], title=result["title"], source=result["source"])
    if fmt == "md":
        return report.to_markdown(result["profile"], title=result["title"], source=result["source"])
    if fmt == "json":
        return report.to_json({"source": result["source"], **result["profile"]})
    raise ConfigError(f"unknown report format {fmt!r}: expected html, json or md")


# ----------------------------------------------------------------------------- infer
def _relative_to_project(path: Path) -> str:

    resolved = path.resolve()
    try:
        return str(resolved.relative_to(sources.project_root()))
    except ValueError:
        return str(resolved)


def _project_conf() -> Path:
    """Where a new dataset config goes: the project's conf/ (created for a [tool.mlplat]
    project that has none yet); never into the config library installed with mlplat."""
    project = find_project()
    if project.root is None:
        raise ConfigError(f"{project.where()}: run `mlplat init` to make one, or pass --output FILE")
    return project.conf or project.root / "conf"


def _sql_source(sql: str, url: str, name: str, password_env: str | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the config to load with now, the source keys written to the file: no password)."""
    import sqlalchemy as sa  # ~0.4 s, only for --sql

    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError as exc:
        raise DataSourceError(f"malformed SQL URL: {exc}") from None
    # URL.set() ignores None: rebuild the URL without its password (URL is a named tuple)
    written = {"source": "sql", "url": parsed._replace(password=None).render_as_string(hide_password=False),
               "query": sql}
    if parsed.password is not None:
        written["password_env"] = password_env or re.sub(r"[^A-Z0-9]", "_", name.upper()) + "_DB_PASSWORD"
    return {"name": name, "source": "sql", "url": url, "query": sql}, written


def infer_dataset(*, target: str, name: str, input: str | None = None, sql: str | None = None,
                  url: str | None = None, output: str | None = None, force: bool = False,
                  password_env: str | None = None, task: str | None = None,
                  progress: Progress | None = None) -> dict[str, Any]:
    """Write ``conf/dataset/<name>.yaml`` (or ``output``) from a file or a query; refuses to overwrite without force."""

    if not NAME.match(name):
        raise ConfigError(f"dataset name {name!r} must be letters, digits, '_', '-' or '.' (it names the file)")
    if (input is None) == (sql is None):
        raise ConfigError("give the data as a file (data/customers.csv) or as --sql QUERY --url URL, one of them")
    if sql is not None and not url:
        raise ConfigError("--sql needs --url (a SQLAlchemy URL, e.g. postgresql+psycopg://user@host/db)")
    if input is not None:
        df = _read(input, "input")
        p = Path(input)
        source = {"source": "parquet" if p.suffix.lower() in (".parquet", ".pq") else "csv",
                  "path": _relative_to_project(p)}
        origin = str(input)
    else:
        load_cfg, source = _sql_source(sql, str(url), name, password_env)
        df = _load(load_cfg)
        origin = f"the query on {source['url']}"
    _need_rows(df, origin)
    _check_target(df, target, origin)
    # where it goes is decided after the input is known good: a bad file or query is the first thing to fix
    path = Path(output) if output else _project_conf() / "dataset" / f"{name}.yaml"
    if path.exists() and not force:
        raise ConfigError(f"{path} already exists: pass --force to overwrite it, or choose another --name")
    profile = profile_frame(df, target=target, task=task, progress=progress)
    if profile.get("task") not in ("classification", "regression"):
        raise TargetError(f"cannot tell the task from target {target!r} ({profile['columns'][target].get('kind')}): "
                          "pass --task classification or --task regression")
    text = infer_config(profile, name=name, source=source, origin=origin)

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, text.encode(), mode=0o644)
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc.strerror or exc}") from None
    return {"path": str(path), "text": text, "profile": profile, "password_env": source.get("password_env")}


# ----------------------------------------------------------------------------- validate / compare
def extract_state(df, dataset: dict[str, Any] | None) -> dict[str, Any]:
    """What a later comparison needs of an extract without the extract itself (JSON-serialisable).

    The data profile (schema, shares) and the drift monitor's reference profile of the
    compared columns; a scheduled ``data_check`` keeps this for the last accepted extract.
    """
    # the monitor's modules (SciPy, ~0.3 s) load only when extracts are compared, not for a profile
    from mlplat.monitoring.profile import build_profile

    target = (dataset or {}).get("target")
    profile = profile_frame(df, target=target if target in df.columns else None, associations=False)
    numeric, categorical = drift_columns(profile, dataset)
    return {"format": "mlplat.extract-state", "version": 1, "data_profile": profile,
            "drift_profile": build_profile(df, numeric=numeric, categorical=categorical)}


def compare_to_state(state: dict[str, Any], current, *, dataset: dict[str, Any] | None,
                     drift_config: dict[str, Any] | None = None) -> dict[str, Any]:
    """Schema (declared and observed), shares and drift of ``current`` against an extract's state."""
    from mlplat.monitoring.drift import check_drift  # SciPy: see extract_state

    reference = state["data_profile"]
    target = reference.get("target")
    cur_p = profile_frame(current, target=target if target in current.columns else None, associations=False)
    compared = set(state["drift_profile"]["features"])
    drift = check_drift(state["drift_profile"], current[[c for c in current.columns if c in compared]],
                        config=drift_config).to_dict()
    declared = schema_check(current, dataset) if dataset else None
    return compare_profiles(reference, cur_p, dataset=dataset, declared=declared, drift=drift)


def compare_frames(reference, current, *, dataset: dict[str, Any] | None,
                   drift_config: dict[str, Any] | None = None) -> dict[str, Any]:
    """Schema (declared and observed), shares and drift of the frame ``current`` against ``reference``."""
    return compare_to_state(extract_state(reference, dataset), current, dataset=dataset, drift_config=drift_config)


def _current(current: str | None, dataset: dict[str, Any]):
    if current is None:
        return _load(dataset), f"dataset {dataset['name']} ({dataset['source']})"
    return _read(current, "current"), f"file {current}"


def validate_dataset(*, overrides: list[str] | None = None, current: str | None = None) -> dict[str, Any]:
    """The declared schema against a new file (or the declared source itself): the checks `mlplat train` runs."""

    dataset = _dataset(overrides)
    df, where = _current(current, dataset)
    result = schema_check(df, dataset)
    return {"dataset": dataset["name"], "input": where, "rows": int(len(df)), "columns": int(df.shape[1]), **result}


def _drift_config(overrides: list[str] | None) -> dict[str, Any]:
    from mlplat.monitoring.settings import drift_config, load

    return drift_config(load(compose_plain(list(overrides or [])).get("monitor")))


def compare_dataset(*, overrides: list[str] | None = None, current: str, reference: str | None = None) -> dict[str, Any]:
    """What changed from the declared dataset (or ``reference`` file) to ``current``: schema, shares, distributions."""
    dataset = _dataset(overrides)
    ref_df = _read(reference, "reference") if reference else _load(dataset)
    cur_df = _read(current, "current")
    _need_rows(ref_df, "the reference")
    result = compare_frames(ref_df, cur_df, dataset=dataset, drift_config=_drift_config(overrides))
    result["reference"] = f"file {reference}" if reference else f"dataset {dataset['name']} ({dataset['source']})"
    result["current"] = f"file {current}"
    return result


# ----------------------------------------------------------------------------- lineage
def run_data_profile(run: dict[str, Any]) -> dict[str, Any] | None:
    """The profile summary a run stored beside its fingerprint (``data_profile.json``), None when it has none."""


    item = next((a for a in run.get("artifacts") or [] if a["name"] == "data_profile.json"), None)
    if item is None:
        return None
    if item.get("pruned_at"):
        return {"error": "data_profile.json was pruned"}
    try:
        return json.loads(read_verified(item["path"], item["sha256"]))
    except (MlplatError, OSError, ValueError) as exc:
        return {"error": f"data_profile.json unreadable: {exc}"}


# ----------------------------------------------------------------------------- scheduled check
def data_check(dataset_name: str, *, state_dir: str | Path, overrides: list[str] | None = None,
               current: str | None = None) -> dict[str, Any]:
    """Validate a declared dataset's fresh extract and compare it with the last accepted one.

    The extract is accepted (its state kept in ``state_dir``, replacing the previous one)
    only when it matches the schema and does not drift; otherwise the previous accepted
    state stays, so every later extract is compared with the last good one.
    Returns ``{"status": ok | first | schema | drift | warn, ...}``.
    """


    dataset = _dataset([*list(overrides or []), f"dataset={dataset_name}"])
    df, where = _current(current, dataset)
    state_path = Path(state_dir) / f"{dataset['name']}.accepted.json"
    previous = None
    if state_path.is_file():
        try:
            previous = json.loads(state_path.read_text())
        except ValueError:
            previous = None
    if previous is None:
        result: dict[str, Any] = {"schema": {"declared": schema_check(df, dataset)}, "drift": None}
        result["status"] = "schema" if not result["schema"]["declared"]["ok"] else "first"
    else:
        result = compare_to_state(previous, df, dataset=dataset, drift_config=_drift_config(overrides))
    result.update(dataset=dataset["name"], input=where, rows=int(len(df)), state=str(state_path))
    result["accepted"] = result["status"] in ("ok", "first", "warn")
    if result["accepted"]:
        state_path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(state_path, json.dumps(extract_state(df, dataset), default=str).encode(), mode=0o644)
    return result
