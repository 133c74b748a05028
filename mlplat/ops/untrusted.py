"""Which overrides an untrusted front door (chat) may pass: the allow-list rule, in one place.

DESIGN: a rule like "which overrides a chat user may pass" is enforced in ops, not in a
front door, so that it holds whichever door is used (the Slack bot today; a web form or an
API tomorrow). Every token is split by the caller, parsed with Hydra's own override
grammar, and must pass the allow-list declared in conf/bot (``allow``): a group value must
be an existing option, a parameter key must be listed with its bounds. Refused, each with
its own reason: option-like tokens, package overrides (``@``), deletions (``~``),
force-adds (``++``), unlisted additions (``+``), ``hydra*`` keys, instantiate keys
(``_target_`` and friends), storage and deployment keys, interpolations (``${`` can read
secrets: ``${oc.env:...}``), paths, dict and list values, ``glob()``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from hydra.core.override_parser.types import ChoiceSweep, Glob, IntervalSweep, RangeSweep

from mlplat.config import overrides as grammar
from mlplat.config.compose import group_options as conf_group_options
from mlplat.errors import ConfigError, OverrideRefused

INSTANTIATE_KEYS = ("_target_", "_partial_", "_args_", "_recursive_", "_convert_")
# storage and deployment: chat must never point a run at another database, registry or server
GUARDED_ROOTS = ("tracking", "registry", "serving", "monitor", "schedule", "bot", "runtime", "launcher",
                 "governance")
# what one chat command may carry: its check then takes bounded time and memory whatever it says
MAX_TOKENS = 64
MAX_TEXT = 4000


def _refuse(token: str, why: str) -> OverrideRefused:
    return OverrideRefused(f"refused `{token}`: {why}")


def _token_form(token: str) -> None:
    """Checks on the raw token, before the grammar (some forms the grammar would accept)."""
    if token.startswith("-"):
        raise _refuse(token, "options (tokens starting with `-`) are not accepted from chat; pass key=value "
                             "overrides only")
    if token.startswith("~"):
        raise _refuse(token, "deletions (`~key`) are not accepted from chat")
    key, sep, value = token.partition("=")
    if not sep:
        raise _refuse(token, "expected key=value")
    if key.startswith("++"):
        raise _refuse(token, "force-adds (`++key`) are not accepted from chat")
    if "@" in key:
        raise _refuse(token, "package overrides (`group@package`) are not accepted from chat")
    if "${" in value:
        raise _refuse(token, "interpolations (`${...}`) are not accepted from chat: they can read the "
                             "environment of the bot (`${oc.env:...}`)")


def _key_form(token: str, key: str, added: bool, params: dict[str, Any]) -> None:
    segments = key.split(".")
    if segments[0].lower().startswith("hydra"):
        raise _refuse(token, "`hydra*` keys configure Hydra itself and are not accepted from chat")
    bad = [s for s in segments if s in INSTANTIATE_KEYS]
    if bad:
        raise _refuse(token, f"`{bad[0]}` decides what code is instantiated and is never accepted from chat")
    if segments[0] in GUARDED_ROOTS:
        raise _refuse(token, f"`{segments[0]}.*` (storage, deployment and bot settings) cannot be set from chat")
    if added and key not in params:
        raise _refuse(token, "adding keys (`+key=...`) is allowed only for the parameters listed in "
                             "conf/bot allow.params")


def _scalar_ok(token: str, key: str, value: Any, bounds: Any) -> None:
    if isinstance(value, dict):
        raise _refuse(token, "dict values are not accepted from chat")
    if isinstance(value, list | tuple):
        raise _refuse(token, "list values are not accepted from chat")
    if isinstance(value, str) and ("/" in value or "\\" in value or value.startswith(("~", "."))):
        raise _refuse(token, "paths are not accepted from chat")
    if isinstance(bounds, list) and len(bounds) == 2 and all(isinstance(b, int | float) for b in bounds):
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise _refuse(token, f"{key} must be a number in [{bounds[0]}, {bounds[1]}], got {value!r}")
        if not bounds[0] <= value <= bounds[1]:
            raise _refuse(token, f"{key} must be in [{bounds[0]}, {bounds[1]}], got {value}")
        return
    choices = [str(b) for b in (bounds or [])]
    if str(value) not in choices:
        raise _refuse(token, f"{key} must be one of {', '.join(choices)}, got {value!r}")


def _values(token: str, o) -> list[Any]:
    """The values to check (a choice's items, a range's ends when it is long, an interval's ends):
    bounded by the text, never by what a range stands for (range(0,2147483647) is two values)."""
    value = o.value()
    if isinstance(value, Glob) or o.value_type is not None and o.value_type.name == "GLOB_CHOICE_SWEEP":
        raise _refuse(token, "`glob()` sweeps are not accepted from chat")
    if isinstance(value, IntervalSweep):
        return [value.start, value.end]
    if isinstance(value, RangeSweep | ChoiceSweep) or o.is_sweep_override():
        try:
            return grammar.check_values(o)
        except ConfigError as exc:
            raise _refuse(token, str(exc)) from None
    return [value]


def check_untrusted_overrides(tokens: list[str], allow: dict[str, Any], *,
                              group_options: Callable[[str], list[str]] | None = None,
                              single_run: bool = False) -> list[str]:
    """The tokens, each checked; the first bad one raises Refused naming it and why.

    ``group_options(group)`` lists a config group's options (default: the conf tree's files).
    ``single_run``: the tokens are one run's, so a sweep value is refused with the rule every
    door applies (``mlplat.config.overrides.refuse_sweeps_in_run``, as ``mlplat train`` does).
    """
    if group_options is None:
        group_options = conf_group_options
    groups = set(allow.get("groups") or [])
    params = dict(allow.get("params") or {})
    parser = grammar.parser()
    if len(tokens) > MAX_TOKENS or sum(len(t) for t in tokens) > MAX_TEXT:
        raise OverrideRefused(f"refused: at most {MAX_TOKENS} overrides and {MAX_TEXT} characters are accepted "
                              "from chat; run longer command lines from the CLI")
    for token in tokens:
        _token_form(token)
        try:
            (o,) = parser.parse_overrides([token])
        except Exception as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise _refuse(token, f"not a valid override ({first})") from None
        if o.is_delete() or o.is_force_add() or o.package:
            raise _refuse(token, "deletions, force-adds and package overrides are not accepted from chat")
        if single_run:
            try:
                grammar.refuse_sweeps_in_run([o])
            except ConfigError as exc:
                raise OverrideRefused(f"refused {exc}") from None
        key = o.key_or_group
        _key_form(token, key, o.is_add(), params)
        values = _values(token, o)
        if "." not in key and key in groups:
            options = set(group_options(key))
            for v in values:
                if str(v) not in options:
                    raise _refuse(token, f"{v!r} is not an option of {key}: choose one of "
                                         f"{', '.join(sorted(options))}")
            continue
        if key not in params:
            listed = sorted(groups) + sorted(params)
            raise _refuse(token, f"`{key}` is not on the chat allow-list (conf/bot allow): allowed keys are "
                                 f"{', '.join(listed)}")
        for v in values:
            _scalar_ok(token, key, v, params[key])
    return tokens



__all__ = ["check_untrusted_overrides"]
