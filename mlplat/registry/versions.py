"""Model versions: created from finished runs, read by reference (``name``, ``name:3``, ``name@alias``).

A version copies what a promotion or the prediction service needs from its run (signature,
metrics, lineage, the model artifact's path and sha256) so later reads do not depend on
the run's config layout, and the service can verify the bytes before it unpickles them.
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from mlplat.errors import NotFound, RegistryError
from mlplat.registry.refs import ALIAS_RE, NAME_RE, Ref, check_alias, check_name, not_registered, parse_ref  # noqa: F401 - re-exported
from mlplat.registry.schema import model_aliases, model_versions, registered_models
from mlplat.tracking import artifacts as art
from mlplat.tracking import audit
from mlplat.tracking.runs import get_run
from mlplat.tracking.store import Store, now

JSON_COLUMNS = ("tags", "metrics", "signature")


def _decode(row: sa.Row) -> dict[str, Any]:
    out = dict(row._mapping)
    for key in JSON_COLUMNS:
        out[key] = json.loads(out[key]) if out.get(key) else {}
    return out


def resolve(conn: sa.Connection, ref: Ref) -> dict[str, Any]:
    """The version a reference names; NotFound with the fix when it names nothing."""
    if not conn.execute(sa.select(registered_models.c.name).where(registered_models.c.name == ref.name)).first():
        raise not_registered(ref.name)
    version = ref.version
    if ref.alias:
        version = conn.execute(sa.select(model_aliases.c.version).where(
            model_aliases.c.name == ref.name, model_aliases.c.alias == ref.alias)).scalar()
        if version is None:
            raise NotFound(f"model {ref.name!r} has no alias {ref.alias!r}; promote a version to it with "
                           f"`mlplat models promote {ref.name} <version> --to {ref.alias}`")
    q = sa.select(model_versions).where(model_versions.c.name == ref.name)
    q = q.where(model_versions.c.version == version) if version is not None else \
        q.order_by(model_versions.c.version.desc()).limit(1)
    row = conn.execute(q).first()
    if row is None:
        raise NotFound(f"model {ref.name!r} has no version {version}; see `mlplat models show {ref.name}`")
    return _decode(row)


def aliases_of(conn: sa.Connection, name: str) -> dict[str, int]:
    return {a.alias: a.version for a in conn.execute(
        sa.select(model_aliases.c.alias, model_aliases.c.version).where(model_aliases.c.name == name))}


def register(store: Store, run_ref: str, name: str, *, actor: str, source: str, description: str | None = None,
             tags: dict[str, str] | None = None) -> dict[str, Any]:
    """A new version of ``name`` from a finished run; versions count up from 1 per name."""
    check_name(name)
    run = get_run(store, run_ref)
    if run["status"] != "done":
        raise RegistryError(f"run {run['id']} is {run['status']}, not done: only a finished run has a model to "
                            "register; pick one from `mlplat runs list --status done`")
    arts = {a["name"]: a for a in run["artifacts"] if not a.get("pruned_at")}
    for needed in ("model.joblib", "signature.json"):
        if needed not in arts:
            raise RegistryError(f"run {run['id']} has no {needed} artifact (pruned?); re-run the experiment "
                                "and register the new run")
    signature = json.loads(art.read_verified(arts["signature.json"]["path"], arts["signature.json"]["sha256"]))
    cand = candidate_of_run(run, name)
    row = {
        **{k: v for k, v in cand.items() if k != "version"}, "created_at": now(), "actor": actor, "source": source,
        "description": description, "tags": json.dumps(dict(tags or {}), sort_keys=True),
        "metrics": json.dumps(cand["metrics"], sort_keys=True), "signature": json.dumps(signature, sort_keys=True),
        "model_path": arts["model.joblib"]["path"], "model_sha256": arts["model.joblib"]["sha256"],
    }
    with store.write() as conn:
        _ensure_model(conn, name)
        # the UPDATE takes the row's write lock, so two registrations never get the same number
        conn.execute(registered_models.update().where(registered_models.c.name == name)
                     .values(latest_version=registered_models.c.latest_version + 1))
        version = conn.execute(sa.select(registered_models.c.latest_version)
                               .where(registered_models.c.name == name)).scalar_one()
        conn.execute(model_versions.insert().values(version=version, **row))
        audit.append(conn, actor=actor, source=source, action="model.register", object_type="model",
                     object_id=f"{name}:{version}",
                     payload={"run_id": run["id"], "model_sha256": row["model_sha256"],
                              "dataset_fingerprint": row["dataset_fingerprint"], "config_hash": row["config_hash"],
                              "code_version": row["code_version"], "tags": tags or {}})
        return resolve(conn, Ref(name, version=version))


def candidate_of_run(run: dict[str, Any], name: str) -> dict[str, Any]:
    """What a version of ``name`` made from ``run`` would hold for the gates (no version number yet):
    the same fields ``register`` copies, so a preview of the gates (CI) reads what a promotion reads."""
    cfg = run.get("config") or {}
    return {"name": name, "version": None, "run_id": run["id"], "task": run["task"],
            "primary_metric": run["primary_metric"],
            "metrics": {"cv": {k: v["value"] for k, v in run["metrics"].get("cv", {}).items()},
                        "holdout": dict(run["metrics"].get("holdout", {}))},
            "dataset": run["dataset"], "dataset_fingerprint": run["dataset_fingerprint"],
            "config_hash": run["config_hash"], "code_version": run["code_version"], "seed": cfg.get("seed"),
            "test_size": (cfg.get("evaluation") or {}).get("test_size")}


def _ensure_model(conn: sa.Connection, name: str) -> None:
    if conn.dialect.name == "postgresql":
        insert = postgresql.insert
    else:
        insert = sqlite.insert
    conn.execute(insert(registered_models).values(name=name, created_at=now(), latest_version=0)
                 .on_conflict_do_nothing())


def list_versions(store: Store, name: str) -> list[dict[str, Any]]:
    with store.read() as conn:
        resolve(conn, Ref(check_name(name)))
        rows = conn.execute(sa.select(model_versions).where(model_versions.c.name == name)
                            .order_by(model_versions.c.version.desc())).all()
        return [_decode(r) for r in rows]


def get(store: Store, ref: Ref) -> dict[str, Any]:
    with store.read() as conn:
        row = resolve(conn, ref)
        aliases = aliases_of(conn, ref.name)
    row["aliases"] = sorted(a for a, v in aliases.items() if v == row["version"])
    return row
