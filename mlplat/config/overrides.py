"""Hydra's override grammar as every front door reads it: parse, count jobs, refuse sweeps in a run.

One place for three rules that the CLI, the Python API and chat all apply (through
``mlplat.ops``), so that a text refused by one door is refused by all of them:

- a single run takes one value per key: a sweep-only value (``a,b``, ``choice()``,
  ``range()``, ``interval()``, ``glob()``, ``tag()``, ``shuffle()``) is refused;
- the jobs a sweep command line launches are counted from the grammar (a range's length is
  arithmetic, a choice's is its list, a grid is the product) without listing a single value,
  so ``seed=range(0,2147483647)`` is counted in microseconds, not expanded into 2^31 values;
- the values a check looks at are bounded: a long range is represented by its first and last
  values (numeric bounds and scikit-learn's interval constraints are convex, so the ends decide).
"""

from __future__ import annotations

import decimal
import functools
import math
from collections.abc import Callable
from typing import Any

from mlplat.errors import ConfigError

# a range with more values than this is checked at its ends only (and never listed)
LISTED_RANGE_VALUES = 64


@functools.lru_cache(maxsize=1)
def parser() -> Any:
    # deferred: Hydra's grammar (ANTLR) costs ~0.2 s to import, which read commands never need
    from hydra.core.override_parser.overrides_parser import OverridesParser

    return OverridesParser.create()


def parse(overrides: list[str]) -> list[Any]:
    """Hydra's Override objects; one ConfigError line for a malformed override."""
    if not overrides:
        return []
    try:
        return parser().parse_overrides(list(overrides))
    except Exception as exc:
        text = str(exc).strip().splitlines()
        raise ConfigError(f"malformed override: {text[0] if text else type(exc).__name__}") from exc


def sweep_kind(o: Any) -> str:
    """The sweep form of an override's value, for messages: choice, range, interval, glob."""
    name = o.value_type.name if o.value_type is not None else "ELEMENT"
    return {"CHOICE_SWEEP": "choice", "SIMPLE_CHOICE_SWEEP": "choice (a,b)", "GLOB_CHOICE_SWEEP": "glob",
            "RANGE_SWEEP": "range", "INTERVAL_SWEEP": "interval"}.get(name, name.lower())


def refuse_sweeps_in_run(parsed: list[Any]) -> None:
    """A single run takes one value per key: any sweep-only value is refused, naming it."""
    for o in parsed:
        if o.is_sweep_override():
            raise ConfigError(
                f"`{o.input_line}` is a sweep ({sweep_kind(o)}), but a single run takes one value per key: "
                "give one value, or run it as a sweep (`mlplat train -m ...`; from chat `/mlplat sweep ...`)")


def _float_range_length(start: float, stop: float, step: float) -> float:
    """Hydra's FloatRange steps in Decimal from Decimal(start): its length is exact arithmetic."""
    if step == 0:
        raise ConfigError("range() with step 0 never ends: give a non-zero step")
    if not all(math.isfinite(v) for v in (start, stop, step)):
        return math.inf
    n = (decimal.Decimal(stop) - decimal.Decimal(start)) / decimal.Decimal(step)
    return float(max(0, math.ceil(n)))


def range_length(sweep: Any) -> float:
    """How many values a Hydra RangeSweep stands for, without listing them (inf when unbounded)."""
    start, stop, step = sweep.start, sweep.stop, sweep.step if sweep.step is not None else 1
    if start is None or stop is None:
        return math.inf
    if all(isinstance(v, int) and not isinstance(v, bool) for v in (start, stop, step)):
        if step == 0:
            raise ConfigError("range() with step 0 never ends: give a non-zero step")
        return len(range(start, stop, step))  # O(1)
    return _float_range_length(float(start), float(stop), float(step))


def sweep_size(o: Any, group_options: Callable[[str], list[str]] | None = None) -> float | None:
    """Values a discrete sweep override stands for (1 for a plain value); None for an interval
    (a search space, not a list of values). A glob needs the group's options to be counted."""
    from hydra.core.override_parser.types import ChoiceSweep, Glob, RangeSweep

    if not o.is_sweep_override():
        return 1
    if o.is_interval_sweep():
        return None
    value = o.value()
    if isinstance(value, RangeSweep):
        return range_length(value)
    if isinstance(value, ChoiceSweep):
        return len(value.list)
    if isinstance(value, list):  # a,b,c
        return len(value)
    if isinstance(value, Glob):
        if group_options is None:
            return None
        return len(value.filter(group_options(o.key_or_group)))
    return None


def count_jobs(parsed: list[Any], group_options: Callable[[str], list[str]] | None = None) -> float | None:
    """Jobs a grid of discrete sweeps launches (the product), counted without expanding; None
    when a value cannot be counted (an interval or a glob without options)."""
    total: float = 1
    for o in parsed:
        if o.is_hydra_override() or not o.is_sweep_override():
            continue
        size = sweep_size(o, group_options)
        if size is None:
            return None
        total *= size
        if total == 0:
            return 0
    return total


def check_values(o: Any) -> list[Any]:
    """The typed values a check must look at: every value of a choice, a range's values when it
    is short, else its first and last (never the whole list)."""
    from hydra.core.override_parser.types import RangeSweep

    value = o.value()
    if isinstance(value, RangeSweep):
        n = range_length(value)
        if n == 0:
            return []
        if n <= LISTED_RANGE_VALUES:
            return list(value.range())
        if not math.isfinite(n):
            raise ConfigError(f"`{o.input_line}`: the range has no end")
        step = value.step if value.step is not None else 1
        return [value.start, value.start + (int(n) - 1) * step]
    return list(o.sweep_iterator())


__all__ = ["parse", "parser", "refuse_sweeps_in_run", "sweep_kind", "sweep_size", "count_jobs", "range_length",
           "check_values"]
