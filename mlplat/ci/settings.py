"""The ``ci`` config group (conf/ci/default.yaml), checked: one line per mistake naming the key."""

from __future__ import annotations

from typing import Any

from mlplat.errors import ConfigError

WHERE = "conf/ci"
DEFAULTS: dict[str, Any] = {"target": "production", "models": {}, "report": "ci-report.md", "max_diff_lines": 200}
REPORT_SUFFIXES = (".md", ".html", ".json")


def load(plain: dict[str, Any]) -> dict[str, Any]:
    """The effective CI settings of a composed config (``compose_plain`` output)."""
    node = plain.get("ci")
    node = {} if node is None else node
    if not isinstance(node, dict):
        raise ConfigError(f"{WHERE}: the ci group must be a mapping, got {type(node).__name__}")
    unknown = sorted(set(node) - set(DEFAULTS))
    if unknown:
        raise ConfigError(f"{WHERE}: unknown key at {unknown[0]} (known: {', '.join(DEFAULTS)}); fix the name")
    cfg = {**DEFAULTS, **node}
    if not isinstance(cfg["target"], str) or not cfg["target"]:
        raise ConfigError(f"{WHERE}: at target: expected an alias name, got {cfg['target']!r}")
    models = cfg["models"] or {}
    if not isinstance(models, dict) or not all(isinstance(k, str) and isinstance(v, str) and v
                                               for k, v in models.items()):
        raise ConfigError(f"{WHERE}: at models: expected experiment -> model name strings, got {models!r}")
    from mlplat.config.compose import group_options

    known = set(group_options("experiment"))
    for experiment in models:
        if experiment not in known:
            raise ConfigError(f"{WHERE}: at models.{experiment}: no experiment preset {experiment!r} in "
                              f"conf/experiment (have {', '.join(sorted(known)) or 'none'}); fix the name")
    if not str(cfg["report"]).endswith(REPORT_SUFFIXES):
        raise ConfigError(f"{WHERE}: at report: {cfg['report']!r} must end in {', '.join(REPORT_SUFFIXES)}")
    if not isinstance(cfg["max_diff_lines"], int) or cfg["max_diff_lines"] < 0:
        raise ConfigError(f"{WHERE}: at max_diff_lines: expected a whole number >= 0, got {cfg['max_diff_lines']!r}")
    cfg["models"] = dict(models)
    return cfg


def model_name(cfg: dict[str, Any], experiment: str) -> str:
    return cfg["models"].get(experiment, experiment)
