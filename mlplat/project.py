"""A user's mlplat project: where it is, where its configs are, and `mlplat init`.

A project is the nearest directory, from the working directory upwards, that holds
``conf/config.yaml`` or a ``pyproject.toml`` with a ``[tool.mlplat]`` table. Its ``conf/``
is layered in front of the config library shipped inside the wheel (``mlplat_conf``), and
``runs/``, relative dataset paths and the default store resolve against its root, so a
command gives the same answer from any subdirectory. ``MLPLAT_CONF_DIR`` names the conf
directory explicitly (its parent is then the root). Outside any project the shipped library
is used alone and ``runs/`` goes in the working directory.

Standard library only: every command (even `mlplat leaderboard`) finds its project first.
"""

from __future__ import annotations

import importlib.util
import os
import re
from dataclasses import dataclass
from pathlib import Path

from mlplat.errors import ConfigError
from mlplat.extras import URL_SCHEMES, require

ENV_CONF = "MLPLAT_CONF_DIR"
_TOOL_TABLE = re.compile(r"^\s*\[tool\.mlplat(\.[^\]]*)?\]\s*$", re.MULTILINE)


@dataclass(frozen=True)
class Project:
    """Where mlplat's paths start. ``root`` is None outside any project."""

    root: Path | None
    conf: Path | None  # the project's own conf/ (None when it has none)
    start: Path  # the directory the search started from
    marker: str  # what made it a project: MLPLAT_CONF_DIR, conf/config.yaml, pyproject.toml, or ""

    @property
    def base(self) -> Path:
        """The directory relative paths start at: the root, else the working directory."""
        return self.root or self.start

    def where(self) -> str:
        """For messages: which project, or where the search looked."""
        if self.root is not None:
            return f"project {self.root}"
        return (f"no mlplat project found in {self.start} or above "
                "(no conf/config.yaml, no [tool.mlplat] in pyproject.toml)")


def _has_tool_table(pyproject: Path) -> bool:
    try:
        text = pyproject.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return bool(_TOOL_TABLE.search(text))


def find_project(start: Path | None = None) -> Project:
    """The project for ``start`` (default: the working directory), see the module docstring."""
    start = (start or Path.cwd()).resolve()
    env = os.environ.get(ENV_CONF)
    if env:
        conf = Path(env).expanduser().resolve()
        if not conf.is_dir():
            raise ConfigError(f"{ENV_CONF}={env!r} is not a directory; point it at a conf/ directory or unset it")
        return Project(conf.parent, conf, start, ENV_CONF)
    for directory in (start, *start.parents):
        conf = directory / "conf"
        if (conf / "config.yaml").is_file():
            return Project(directory, conf, start, "conf/config.yaml")
        if (directory / "pyproject.toml").is_file() and _has_tool_table(directory / "pyproject.toml"):
            return Project(directory, conf if conf.is_dir() else None, start, "pyproject.toml")
    return Project(None, None, start, "")


def shipped_conf() -> Path:
    """The config library installed with mlplat (the ``mlplat_conf`` package: the repository's conf/)."""
    spec = importlib.util.find_spec("mlplat_conf")
    if spec is not None and spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations))).resolve()
    # a source checkout on sys.path without an install: the conf/ beside the package
    return Path(__file__).resolve().parents[1] / "conf"


def resolve(path: str | Path, project: Project | None = None) -> Path:
    """``path`` made absolute against the project's root (the working directory outside one)."""
    p = Path(path).expanduser()
    return p if p.is_absolute() else (project or find_project()).base / p


def data_base(project: Project | None = None) -> Path:
    """Where relative dataset paths start: the project's root; outside any project, the
    directory holding the shipped conf/ (the repository in a checkout, whose data/ the shipped
    example datasets name)."""
    project = project or find_project()
    return project.root or shipped_conf().parent


_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def is_url(text: str) -> bool:
    return bool(_URL.match(text))


def resolve_sqlite_url(url: str, project: Project | None = None) -> str:
    """sqlite:///relative.db -> sqlite:////<root>/relative.db (other URLs unchanged)."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and ":memory:" not in url:
        rest = url[len(prefix):]
        path, sep, query = rest.partition("?")
        return prefix + str(resolve(path, project)) + sep + query
    return url


def artifact_scheme(location: str) -> str | None:
    """``s3`` for ``s3://bucket/x``; None for a filesystem path (artifact locations)."""
    m = _URL.match(location)
    return m.group(0)[:-3].lower() if m else None


def check_artifact_url(url: str, role: str = "tracking.artifacts") -> str:
    """The extra that serves ``url``; ConfigError for an unknown scheme or credentials in the URL.

    The URL is recorded in every artifact's location, so credentials must come from the
    provider's chain (AWS_* variables, ~/.aws, roles), never from the URL itself.
    """
    scheme = artifact_scheme(url) or ""
    extra = URL_SCHEMES.get(scheme)
    if extra is None:
        known = ", ".join(f"{s}:// ({e} extra)" for s, e in URL_SCHEMES.items() if s in ("s3", "gs", "az"))
        raise ConfigError(f"{role}: unknown URL scheme {scheme + '://'!r}: use a filesystem path or {known}")
    netloc = url.split("://", 1)[1].split("/", 1)[0]
    if "@" in netloc or "?" in url:
        raise ConfigError(f"{role}: the URL carries credentials or options ({scheme}://<hidden>); give the "
                          "bucket and prefix only and put credentials in the environment (AWS_ACCESS_KEY_ID, "
                          "AWS_PROFILE, ...) and the endpoint in AWS_ENDPOINT_URL")
    if not netloc:
        raise ConfigError(f"{role}={url!r} names no bucket: expected {scheme}://<bucket>/<prefix>")
    return extra


def resolve_tracking(tracking: dict, project: Project | None = None) -> dict:
    """The tracking node with the SQLite file and a local artifact root made absolute against the root.

    An object-store artifact root (s3://, gs://, az://) is kept as given, after checking its
    scheme and that the extra serving it is installed: before any job, one line naming the
    extra, rather than a failure after the model was fitted.
    """
    artifacts = str(tracking.get("artifacts") or "")
    out = dict(tracking)
    out["url"] = resolve_sqlite_url(str(tracking.get("url") or ""), project)
    if is_url(artifacts):
        extra = check_artifact_url(artifacts)
        require(extra, f"tracking.artifacts={artifacts!r}")
        out["artifacts"] = artifacts.rstrip("/")
    else:
        out["artifacts"] = str(resolve(artifacts or "runs/artifacts", project))
    return out


# -- mlplat init ---------------------------------------------------------------------------
CONFIG_YAML = """\
# This project's root config: everything mlplat ships (`- mlplat`: models, feature sets,
# evaluation, sweeps, registry, serving and monitoring defaults) with this project's choices
# on top. A file under conf/ overrides the shipped file of the same name; a new file adds an
# option (conf/dataset/customers.yaml -> `mlplat train dataset=customers`).
defaults:
  - mlplat
  - override dataset: example
  - _self_

name: {name}          # the experiment this project's runs are recorded under
runtime:
  # modules a model's _target_ may be imported from: add your own package here to train
  # your own estimator class (conf/model/<name>.yaml with `classifier: mypackage.MyModel`)
  allowed_modules: [sklearn, xgboost, lightgbm, catboost, mlplat]
"""

DATASET_YAML = """\
# An example dataset: a CSV whose target is text ("Yes"/"No"). Copy this file for your own
# data (relative paths start at the project root, wherever mlplat is run from).
name: example
source: csv
path: data/example.csv
task: classification
target: churned
description: customers of a subscription service and whether they left (generated by mlplat init)
id_column: customer_id
categorical: [plan]
# rows and columns: a pandas query over the columns, the columns kept, missing targets
filter: null               # e.g. "tenure_months >= 1"
select: null               # e.g. [age, plan, monthly_spend]
target_missing: error      # or drop
columns:
  churned: {{allowed: ["Yes", "No"]}}
  age: {{dtype: numeric, min: 18, max: 100}}
"""

ACCESS_YAML = """\
# Who may do what in this project, whichever door they come through (CLI, CI, the web UI,
# Slack); it replaces the roles table mlplat ships. `mlplat init` put you ({user}) in every
# role. Promotions to production need one approval from someone OTHER than the requester
# (four-eyes): add a second person to roles.ml-lead to be able to promote.
# Members: a name (OS user, MLPLAT_ACTOR such as mlplat-ci, the UI's proxy user), "*" = any
# of those, slack:U0123 (a Slack user), "slack:*" (the whole workspace), slack-group:S0123.
roles:
  viewer: ["*", "slack:*"]
  ml-engineer: ["*"]
  ml-lead: [{user_q}]        # approvers of production: add a second person, e.g. [{user_q}, alice]
  oncall: [{user_q}]         # may roll production back without approval
  admin: []

operations:
  view: [viewer, ml-engineer, ml-lead, oncall]
  train: [ml-engineer]
  sweep: [ml-engineer]
  register: [ml-engineer]
  promote: [ml-engineer]
  approve: [ml-lead]
  reject: [ml-lead]
  rollback: [ml-lead, oncall]
  schedule: [ml-engineer]
"""

REGISTRY_YAML = """\
# What a version must show to reach each alias in this project's model registry (it replaces
# the policy mlplat ships). The roles named here are defined in conf/access/default.yaml.

targets:
  staging:
    requester_roles: [ml-engineer]
    approvals: 0           # 0: the promotion applies at once (gates still apply)
    approver_roles: [ml-lead]
    expiry_hours: 72
    gates: {{run_completed: true, validation_passed: true, thresholds: {{}}, beat_champion: null}}
  production:
    requester_roles: [ml-engineer]
    approvals: 1           # distinct approvers needed, never the requester
    approver_roles: [ml-lead]
    expiry_hours: 72
    gates:
      run_completed: true
      validation_passed: true
      thresholds: {{}}      # metric -> bound on the holdout (a floor for scores, a ceiling for losses)
      stage: holdout
      beat_champion: {{metric: null, margin: 0.0, on_not_comparable: review}}

auto_register:
  enabled: false
  name: null
"""

GITIGNORE = """\
# mlplat's store, artifacts, Hydra outputs, reports and prediction logs
runs/
__pycache__/
.venv/
"""

README = """\
# {name}

An [mlplat](https://pypi.org/project/mlplat/) project.

```bash
mlplat train                                  # the example dataset (conf/dataset/example.yaml)
mlplat train model=random_forest              # any shipped model, feature set or evaluation
mlplat leaderboard                            # runs ranked by the primary metric
mlplat train --info searchpath                # where configs come from: conf/ first, then mlplat's library
```

Add a dataset as `conf/dataset/<name>.yaml` (copy `example.yaml`) and train it with
`mlplat train dataset=<name>`. Who may do what is in `conf/access/default.yaml`; the
promotion rules are in `conf/registry/default.yaml`.
Everything mlplat writes goes under `runs/`.
"""


def example_rows(n: int = 240, seed: int = 0) -> list[dict]:
    """A small deterministic customer table whose target ("Yes"/"No") depends on the features."""
    import math
    import random

    rng = random.Random(seed)
    rows = []
    for i in range(n):
        plan = rng.choice(["basic", "standard", "premium"])
        age = rng.randint(18, 80)
        tenure = rng.randint(0, 72)
        spend = round({"basic": 20, "standard": 45, "premium": 80}[plan] + rng.gauss(0, 8), 2)
        support_calls = min(10, int(rng.expovariate(0.6)))
        score = 1.2 - 0.06 * tenure + 0.45 * support_calls + (0.8 if plan == "basic" else 0) - 0.01 * (age - 40)
        churned = "Yes" if rng.random() < 1 / (1 + math.exp(-score)) else "No"
        rows.append({"customer_id": f"C{i:05d}", "age": age, "plan": plan, "tenure_months": tenure,
                     "monthly_spend": spend, "support_calls": support_calls, "churned": churned})
    return rows


def _csv_text(rows: list[dict]) -> str:
    import csv
    import io

    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def registry_policy(user: str) -> str:
    """The registry policy `mlplat init` writes: ``user`` in every role (one function, so the
    permission model can change what a new project starts with in one place)."""
    import json

    return REGISTRY_YAML.format(user=user, user_q=json.dumps(user))


def access_policy(user: str) -> str:
    """The roles table `mlplat init` writes: ``user`` in every role."""
    import json

    return ACCESS_YAML.format(user=user, user_q=json.dumps(user))


def scaffold(root: Path, *, user: str) -> dict[Path, str]:
    """The files of a new project at ``root`` and their contents (nothing is written)."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", root.resolve().name).strip("-") or "project"
    return {
        root / "conf" / "config.yaml": CONFIG_YAML.format(name=name),
        root / "conf" / "dataset" / "example.yaml": DATASET_YAML.format(),
        root / "conf" / "registry" / "default.yaml": registry_policy(user),
        root / "conf" / "access" / "default.yaml": access_policy(user),
        root / "data" / "example.csv": _csv_text(example_rows()),
        root / ".gitignore": GITIGNORE,
        root / "README.md": README.format(name=name),
    }


def init_project(root: Path, *, user: str) -> list[Path]:
    """Write a new project at ``root`` and return its files; refuses (writing nothing) when any
    of them exists already."""
    files = scaffold(root, user=user)
    existing = [p for p in files if p.exists()]
    if existing:
        shown = ", ".join(str(p.relative_to(root)) for p in existing)
        raise ConfigError(f"{root} already has {shown}: mlplat init never overwrites files; "
                          "choose an empty or new directory")
    if root.exists() and not root.is_dir():
        raise ConfigError(f"{root} exists and is not a directory")
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "x", encoding="utf-8") as fh:  # "x": never overwrite, even in a race
            fh.write(text)
    return list(files)
