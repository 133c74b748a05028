"""The default ``tracking`` node of the config tree, read without composing it.

Read-only commands (`mlplat leaderboard`, `runs list`, `store stats`) only need
tracking.url and tracking.artifacts, and composing the whole tree with Hydra costs more
than the 0.5 s a command should take. When the tree is simple enough that the answer is
certain (config.yaml picks ``tracking: <option>``, nothing else in the selected defaults
mentions tracking, the option file holds plain strings or ``${oc.env:VAR,default}``),
the file is read directly; anything else returns None and the caller composes, so the
result is always the URL the composed config would give.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import yaml

_ENV = re.compile(r"^\$\{oc\.env:([A-Za-z_][A-Za-z0-9_]*)(?:,([^${}'\"\\]*))?\}$")


def _resolve(value: object) -> str | None:
    """A plain string, or an ``${oc.env:VAR,default}`` resolved as OmegaConf would; else None."""
    if not isinstance(value, str):
        return None
    if "${" not in value:
        return value
    m = _ENV.match(value.strip())
    if m is None:
        return None
    name, default = m.groups()
    if name in os.environ:
        return os.environ[name]
    return default.strip() if default is not None and default.strip() else None


def _load_yaml(path: Path) -> object:
    try:
        return yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError):
        return None


def _tracking_option(conf: Path, root: dict) -> str | None:
    """The option config.yaml selects for ``tracking``, if no other selected default can touch it."""
    option = None
    for entry in root.get("defaults") or []:
        if isinstance(entry, str):
            continue
        if not isinstance(entry, dict) or len(entry) != 1:
            return None
        (key, value), = entry.items()
        group = str(key).removeprefix("optional ").strip()
        if group == "tracking":
            option = value
        elif "tracking" in group:
            return None  # package overrides (tracking@..., override tracking) need Hydra
        elif value is not None:
            selected = conf / group / f"{value}.yaml"
            text = selected.read_text() if selected.is_file() else ""
            # a group file lands under its own key; only a global package or its own
            # defaults list can reach the tracking node
            if "tracking" in text and ("_global_" in text or "defaults" in text):
                return None
    return option if isinstance(option, str) else None


def default_tracking(conf: Path) -> dict | None:
    """{url, artifacts} of the tree at ``conf`` with no overrides, or None when unsure."""
    root = _load_yaml(conf / "config.yaml")
    if not isinstance(root, dict) or "tracking" in root:
        return None
    option = _tracking_option(conf, root)
    if option is None:
        return None
    node = _load_yaml(conf / "tracking" / f"{option}.yaml")
    if not isinstance(node, dict) or set(node) != {"url", "artifacts"}:
        return None
    url, artifacts = _resolve(node["url"]), _resolve(node["artifacts"])
    if url is None or artifacts is None:
        return None
    return {"url": url, "artifacts": artifacts}
