"""The search space: Hydra sweep overrides and dict specs turned into Optuna distributions.

Two ways to declare a parameter are accepted, as in hydra-optuna-sweeper:

* Hydra's override grammar, in ``hydra.sweeper.params`` or on the command line:
  ``interval(0.01, 1)``, ``tag(log, interval(1e-4, 1))``, ``int(interval(2, 10))``,
  ``choice(a, b)``, ``range(1, 10, 2)``, ``shuffle(range(...))``;
* an explicit dict: ``{type: float|int|categorical, low, high, log, step, choices}``.

Anything that is not a sweep (``model.n_estimators=300``) is a *fixed* override, passed
unchanged to every trial. Everything is validated here, before the study exists, so a typo
costs one line of error and no trial.

The reverse direction matters as much: a sampled value must become override text that Hydra
parses back to the very same value (a string ``"true"`` must not turn into a bool, ``a b``
must be quoted). :func:`format_value` checks every candidate text by parsing it.
"""

from __future__ import annotations

import decimal
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import (
    ChoiceSweep,
    IntervalSweep,
    Override,
    RangeSweep,
    Transformer,
)
from hydra.errors import HydraException
from omegaconf import DictConfig, ListConfig, OmegaConf
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
    distribution_to_json,
)

from ._errors import SearchSpaceError

_PRIMITIVES = (str, int, float, bool, type(None))
_DICT_KEYS = frozenset({"type", "low", "high", "log", "step", "choices"})


@lru_cache(maxsize=1)
def _parser() -> OverridesParser:
    return OverridesParser.create()


def one_line(text: str) -> str:
    """Hydra and Optuna messages span lines; the sweeper's errors must not."""
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    # Hydra appends a documentation link that adds nothing to a one-line message
    lines = [line for line in lines if not line.startswith("See https://hydra.cc")]
    out = ""
    for line in lines:
        out += ("" if not out else " " if out.endswith((".", ":", ";")) else "; ") + line
    return out


def _same(a: Any, b: Any) -> bool:
    """Equality that tells bool from int and treats NaN as equal to itself."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return bool(a == b)


def _parses_to(text: str, value: Any) -> bool:
    try:
        parsed = _parser().parse_override(f"k={text}")
    except HydraException:
        return False
    return not parsed.is_sweep_override() and _same(parsed.value(), value)


def _candidates(value: Any) -> Iterable[str]:
    if value is None:
        yield "null"
    elif isinstance(value, bool):
        yield "true" if value else "false"
    elif isinstance(value, int):
        yield str(value)
    elif isinstance(value, float):
        yield repr(value)  # shortest text that round-trips: 0.1, 1e-05, inf, nan
    elif isinstance(value, str):
        yield value
        if "'" not in value:
            yield f"'{value}'"
        if '"' not in value:
            yield f'"{value}"'
        yield "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    elif isinstance(value, list | tuple):
        yield "[" + ",".join(format_value(v) for v in value) + "]"
    elif isinstance(value, dict):
        yield "{" + ",".join(f"{k}:{format_value(v)}" for k, v in value.items()) + "}"


def format_value(value: Any) -> str:
    """Override text that Hydra parses back to exactly ``value``.

    Raises:
        SearchSpaceError: no text round-trips (a type Hydra overrides cannot express).
    """
    if isinstance(value, tuple):
        value = list(value)
    for text in _candidates(value):
        if _parses_to(text, value):
            return text
    raise SearchSpaceError(f"cannot write {value!r} ({type(value).__name__}) as a Hydra override value")


@dataclass(frozen=True)
class ParamSpec:
    """One searched parameter.

    ``key`` is the override key as written (``+model.depth`` keeps its ``+``); ``name`` is
    the Optuna parameter name (no prefix). For categorical parameters ``choice_texts[i]`` is
    the override text of ``distribution.choices[i]``: choices Optuna cannot store (lists,
    dicts) are kept as their override text on both sides.
    """

    key: str
    name: str
    distribution: BaseDistribution
    source: str
    choice_texts: tuple[str, ...] | None = None

    def override(self, value: Any) -> str:
        """The override handing ``value`` (as sampled by Optuna) to the trial's job."""
        if self.choice_texts is not None:
            assert isinstance(self.distribution, CategoricalDistribution)
            # by exact type: choices (1, True) hold two equal values that are different overrides
            index = next(i for i, c in enumerate(self.distribution.choices) if _same(c, value))
            return f"{self.key}={self.choice_texts[index]}"
        if isinstance(self.distribution, FloatDistribution) and self.distribution.step is not None:
            value = float(f"{value:.12g}")  # 0.30000000000000004 -> 0.3 for stepped floats
        return f"{self.key}={format_value(value)}"

    def representative_values(self) -> list[Any]:
        """Values that exercise the parameter when checking it against the app config."""
        dist = self.distribution
        if isinstance(dist, CategoricalDistribution):
            return list(dist.choices)
        assert isinstance(dist, IntDistribution | FloatDistribution)
        return [dist.low]

    def grid_values(self) -> list[Any]:
        """The values a GridSampler walks through; continuous parameters have none."""
        dist = self.distribution
        if isinstance(dist, CategoricalDistribution):
            return list(dist.choices)
        if isinstance(dist, IntDistribution):
            return list(range(dist.low, dist.high + 1, dist.step))
        assert isinstance(dist, FloatDistribution)
        if dist.step is None:
            raise SearchSpaceError(
                f"{self.source}: the grid sampler needs discrete values, but this is a continuous "
                "interval; use choice(...), range(...) or {type: float, low, high, step}"
            )
        n = round((dist.high - dist.low) / dist.step) + 1
        return [float(f"{dist.low + i * dist.step:.12g}") for i in range(n)]

    def fingerprint(self) -> list[Any]:
        return [self.key, distribution_to_json(self.distribution), list(self.choice_texts or ())]


@dataclass
class SearchSpace:
    """Searched parameters and fixed overrides, keyed by Optuna parameter name."""

    params: dict[str, ParamSpec] = field(default_factory=dict)
    fixed: dict[str, str] = field(default_factory=dict)

    @property
    def distributions(self) -> dict[str, BaseDistribution]:
        return {name: spec.distribution for name, spec in self.params.items()}

    def add_param(self, spec: ParamSpec) -> None:
        # later declarations win, so a command-line override replaces the preset's entry
        self.fixed.pop(spec.name, None)
        self.params.pop(spec.name, None)
        self.params[spec.name] = spec

    def add_fixed(self, name: str, override: str) -> None:
        self.params.pop(name, None)
        self.fixed.pop(name, None)
        self.fixed[name] = override

    def overrides(self, trial_params: Mapping[str, Any]) -> list[str]:
        """The override list of one trial: its sampled values, then the fixed overrides.

        Parameters suggested by a ``custom_search_space`` function are not in ``self.params``
        and are written with their natural override text under their Optuna name.
        """
        out = []
        for name, value in trial_params.items():
            spec = self.params.get(name)
            out.append(spec.override(value) if spec else f"{name}={format_value(value)}")
        out.extend(self.fixed.values())
        return out

    def probe_overrides(self) -> list[list[str]]:
        """Override sets that together use every categorical choice at least once.

        Composing the app config with each of them before the study starts turns a typo in a
        parameter name or a missing config-group option into an error before any trial runs.
        """
        values = {name: spec.representative_values() for name, spec in self.params.items()}
        base = {name: vals[0] for name, vals in values.items()}
        probes = [self.overrides(base)]
        for name, vals in values.items():
            for other in vals[1:]:
                probes.append(self.overrides({**base, name: other}))
        return probes

    def grid(self) -> dict[str, list[Any]]:
        return {name: spec.grid_values() for name, spec in self.params.items()}

    def fingerprint(self) -> dict[str, Any]:
        """A JSON-able description that changes whenever the searched problem changes."""
        return {
            "params": sorted(spec.fingerprint() for spec in self.params.values()),
            "fixed": sorted(self.fixed.values()),
        }


def _name_of(key: str) -> str:
    return key.lstrip("+")


def _distribution_error(where: str, exc: Exception) -> SearchSpaceError:
    return SearchSpaceError(f"{where}: {one_line(str(exc))}")


def _categorical(
    key: str, source: str, values: Sequence[Any], encoded: Sequence[Any] | None = None
) -> ParamSpec:
    """A categorical parameter; non-primitive choices are stored as their override text."""
    if not values:
        raise SearchSpaceError(f"{source}: no choices to search")
    choices: list[Any] = []
    texts: list[str] = []
    for i, value in enumerate(values):
        if isinstance(value, _PRIMITIVES):
            text = format_value(value)
            choices.append(value)
        else:
            text = str(encoded[i]) if encoded is not None else format_value(value)
            choices.append(text)
        texts.append(text)
    try:
        dist = CategoricalDistribution(choices)
    except (ValueError, TypeError) as exc:
        raise _distribution_error(source, exc) from None
    return ParamSpec(key, _name_of(key), dist, source, tuple(texts))


# a categorical built from a list of values (shuffle(range())) holds at most this many
MAX_CATEGORIES = 10_000


def _range_ends(value: RangeSweep) -> tuple[Any, Any, int]:
    """First value, last value and length of a Hydra range, in O(1) (Hydra's FloatRange steps in
    Decimal, so the arithmetic count is its exact length)."""
    r = value.range()
    if isinstance(r, range):
        return (r[0], r[-1], len(r)) if len(r) else (None, None, 0)
    start, stop, step = (decimal.Decimal(v) for v in (value.start, value.stop, value.step))
    if not all(v.is_finite() for v in (start, stop, step)) or step == 0:
        raise SearchSpaceError(f"range({value.start}, {value.stop}, {value.step}) has no end")
    n = max(0, math.ceil((stop - start) / step))
    return (float(start), float(start + (n - 1) * step), n) if n else (None, None, 0)


def _from_override(override: Override, source: str) -> ParamSpec:
    key = override.get_key_element()
    value = override.value()
    if not isinstance(value, ChoiceSweep | RangeSweep | IntervalSweep):  # glob(), ...
        raise SearchSpaceError(
            f"{source}: this sweep is not supported by the Optuna sweeper; "
            "use interval(), tag(log, interval()), int(interval()), choice() or range()"
        )
    try:
        if isinstance(value, RangeSweep) and value.shuffle and _range_ends(value)[2] > MAX_CATEGORIES:
            raise SearchSpaceError(f"{source}: shuffle(range()) makes a categorical of more than {MAX_CATEGORIES} "
                                   "values; use range() (an integer or stepped distribution) instead")
        if isinstance(value, ChoiceSweep) or (isinstance(value, RangeSweep) and value.shuffle):
            raw = list(override.sweep_iterator(transformer=Transformer.identity))
            encoded = list(override.sweep_iterator(transformer=Transformer.encode))
            if isinstance(value, RangeSweep):  # shuffle() is meaningless to a sampler
                raw, encoded = sorted(raw), sorted(encoded)
            return _categorical(key, source, raw, encoded)
        if isinstance(value, RangeSweep):
            if "log" in value.tags:
                raise SearchSpaceError(f"{source}: tag(log, ...) applies to interval(), not to range()")
            # the ends, not the values: range(0, 2147483647) must not be listed to be searched
            first, last, n = _range_ends(value)
            if n == 0:
                raise SearchSpaceError(f"{source}: the range is empty")
            low, high = min(first, last), max(first, last)
            step = abs(value.step)
            if isinstance(low, int) and isinstance(high, int) and isinstance(step, int):
                return ParamSpec(key, _name_of(key), IntDistribution(low, high, step=step), source)
            return ParamSpec(key, _name_of(key), FloatDistribution(float(low), float(high), step=float(step)), source)
        log = "log" in value.tags
        if isinstance(value.start, int) and isinstance(value.end, int):
            return ParamSpec(key, _name_of(key), IntDistribution(value.start, value.end, log=log), source)
        assert value.start is not None and value.end is not None
        return ParamSpec(
            key, _name_of(key), FloatDistribution(float(value.start), float(value.end), log=log), source
        )
    except (ValueError, TypeError) as exc:
        if isinstance(exc, SearchSpaceError):
            raise
        raise _distribution_error(source, exc) from None


def _from_dict(key: str, spec: Mapping[str, Any], source: str) -> ParamSpec:
    unknown = set(spec) - _DICT_KEYS
    if unknown:
        raise SearchSpaceError(
            f"{source}: unknown key(s) {', '.join(sorted(map(str, unknown)))}; "
            f"expected {', '.join(sorted(_DICT_KEYS))}"
        )
    kind = spec.get("type")
    if kind not in ("float", "int", "categorical"):
        raise SearchSpaceError(f"{source}: type must be float, int or categorical, got {kind!r}")
    if kind == "categorical":
        extra = {"low", "high", "log", "step"} & set(spec)
        if extra:
            raise SearchSpaceError(
                f"{source}: a categorical parameter takes only choices, not {', '.join(sorted(extra))}"
            )
        choices = spec.get("choices")
        if not isinstance(choices, list | tuple) or not choices:
            raise SearchSpaceError(f"{source}: a categorical parameter needs a non-empty list of choices")
        return _categorical(key, source, list(choices))
    if "choices" in spec:
        raise SearchSpaceError(f"{source}: choices is only valid with type: categorical")
    missing = [k for k in ("low", "high") if spec.get(k) is None]
    if missing:
        raise SearchSpaceError(f"{source}: a {kind} parameter needs {' and '.join(missing)}")
    low, high, step, log = spec["low"], spec["high"], spec.get("step"), bool(spec.get("log", False))
    try:
        if kind == "int":
            for label, bound in (("low", low), ("high", high), ("step", step)):
                if bound is not None and (isinstance(bound, bool) or float(bound) != int(float(bound))):
                    raise SearchSpaceError(f"{source}: {label}={bound!r} is not an integer")
            dist: BaseDistribution = IntDistribution(
                int(float(low)), int(float(high)), log=log, step=1 if step is None else int(float(step))
            )
        else:
            dist = FloatDistribution(
                float(low), float(high), log=log, step=None if step is None else float(step)
            )
    except (ValueError, TypeError) as exc:
        if isinstance(exc, SearchSpaceError):
            raise
        raise _distribution_error(source, exc) from None
    return ParamSpec(key, _name_of(key), dist, source)


def _parse(line: str, source: str) -> Override:
    try:
        return _parser().parse_override(line)
    except HydraException as exc:
        raise SearchSpaceError(f"{source}: {one_line(str(exc))}") from None


def parse_search_space(
    params: Mapping[str, Any] | DictConfig | None, arguments: Sequence[str]
) -> SearchSpace:
    """Build the search space from ``hydra.sweeper.params`` and the command-line overrides.

    Command-line overrides come last and win, so ``lr=0.1`` on the command line pins a
    parameter the preset searches, and ``lr=interval(0.1, 1)`` narrows it.

    Raises:
        SearchSpaceError: the first malformed entry, in one line naming it.
    """
    space = SearchSpace()
    if isinstance(params, DictConfig):
        params = OmegaConf.to_container(params, resolve=True)  # type: ignore[assignment]
    for raw_key, value in (params or {}).items():
        key = str(raw_key)
        where = f"hydra.sweeper.params.{key}"
        if isinstance(value, DictConfig | ListConfig):
            value = OmegaConf.to_container(value, resolve=True)
        if isinstance(value, Mapping):
            space.add_param(_from_dict(key, value, f"{where}={value}"))
            continue
        text = value if isinstance(value, str) else format_value(value)
        source = f"{where}={text}"
        override = _parse(f"{key}={text}", source)
        if override.is_sweep_override():
            space.add_param(_from_override(override, source))
        else:
            space.add_fixed(_name_of(override.get_key_element()), f"{key}={text}")
    for line in arguments:
        source = f"override '{line}'"
        override = _parse(line, source)
        key = override.get_key_element()
        if override.is_sweep_override():
            space.add_param(_from_override(override, source))
        else:
            space.add_fixed(_name_of(key), override.input_line or line)
    return space
