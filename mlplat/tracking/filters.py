"""Run filters and sort keys as people type them in the web UI (and its JSON API).

One filter is ``<field><op><value>``: ``dataset=wage``, ``status!=failed``,
``param.max_depth>=6``, ``tag.team=fraud``, ``metric.roc_auc>=0.9`` (the cv mean;
``holdout.roc_auc`` for the held-out score), ``started>=2026-11-30`` or ``started>=7d`` (within
the last 7 days). A sort key is ``started``, ``duration``, ``metric.<name>``, ``holdout.<name>``,
``param.<key>`` or ``tag.<key>``. Anything else is refused with a :class:`FilterError` that
names the filter and says why, so the page can show it next to the filter box.

This module must not import SQLAlchemy (the SQL is built in tracking.queries from these).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from mlplat.durations import seconds
from mlplat.errors import ConfigError

# run columns a filter may test for (in)equality; ``sweep`` is the friendly name of sweep_id
COLUMNS = {"experiment": "experiment", "sweep": "sweep_id", "sweep_id": "sweep_id", "dataset": "dataset",
           "model": "model", "status": "status", "features": "features", "actor": "actor", "source": "source"}
OPS = (">=", "<=", "!=", "=", ">", "<")  # longest first, so ">=" is not read as ">"
STAGES = {"metric": "cv", "holdout": "holdout"}
MAX_FILTERS = 20
MAX_TEXT = 300
_KEY = re.compile(r"^[A-Za-z0-9_.\-/:+~@]{1,200}$")
_FIELD_HELP = ("use one of " + ", ".join(sorted(set(COLUMNS) - {"sweep_id"}))
               + ", started, param.<key>, tag.<key>, metric.<name>, holdout.<name>")


class FilterError(ConfigError):
    """A filter or sort key the UI cannot apply; ``text`` is what the user typed."""

    def __init__(self, text: str, why: str):
        self.text, self.why = text, why
        super().__init__(f"filter {text!r}: {why}")


@dataclass(frozen=True)
class Filter:
    kind: str  # column | param | tag | metric | started
    key: str  # column name, param/tag key, metric name
    op: str
    value: str | float
    stage: str = "cv"  # metric filters: cv or holdout
    text: str = ""

    @property
    def sql_op(self) -> str:
        return "<>" if self.op == "!=" else self.op


@dataclass(frozen=True)
class Sort:
    kind: str  # started | duration | metric | param | tag
    key: str = ""
    stage: str = "cv"
    descending: bool = True

    @property
    def text(self) -> str:
        prefix = {"metric": "metric.", "param": "param.", "tag": "tag."}.get(self.kind, "")
        if self.kind == "metric" and self.stage == "holdout":
            prefix = "holdout."
        return f"{prefix}{self.key}" if self.kind in ("metric", "param", "tag") else self.kind


def _number(text: str, value: str, what: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise FilterError(text, f"{value!r} is not a number; {what} compare with numbers, e.g. 0.9") from None
    if not math.isfinite(number):
        raise FilterError(text, f"{value!r} is not a finite number")
    return number


def _time(text: str, value: str) -> float:
    ago = seconds(value)
    if ago is not None:
        return datetime.now(UTC).timestamp() - ago
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise FilterError(text, f"{value!r} is neither a date (2026-11-30, 2026-11-30T10:00) nor a duration "
                                "ago (24h, 7d)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _split_key(text: str, field: str) -> tuple[str, str]:
    prefix, _, key = field.partition(".")
    if not key or not _KEY.match(key):
        raise FilterError(text, f"{prefix}. needs a key of letters, digits and _.-/:, e.g. {prefix}.max_depth")
    return prefix, key


def parse_filter(text: str) -> Filter:
    """One filter as typed; FilterError naming it and why when it cannot be applied."""
    raw = text
    text = text.strip()
    if not text:
        raise FilterError(raw, "empty filter; write field=value, e.g. dataset=wage")
    if len(text) > MAX_TEXT:
        raise FilterError(text[:40] + "...", f"longer than {MAX_TEXT} characters")
    at = min(((text.find(op), op) for op in OPS if op in text), default=None, key=lambda p: (p[0], -len(p[1])))
    if at is None:
        raise FilterError(text, "no operator; write field=value, field!=value or field>=number, "
                                "e.g. dataset=wage or metric.roc_auc>=0.9")
    pos, op = at
    field, value = text[:pos].strip(), text[pos + len(op):].strip()
    if not field:
        raise FilterError(text, f"nothing before {op!r}; {_FIELD_HELP}")
    if not value:
        raise FilterError(text, f"no value after {op!r}")
    if field in COLUMNS:
        if op not in ("=", "!="):
            raise FilterError(text, f"{field} compares with = or != only")
        return Filter("column", COLUMNS[field], op, value, text=text)
    if field == "started":
        if op in ("=", "!="):
            raise FilterError(text, "started compares with >=, <=, > or <, e.g. started>=7d")
        return Filter("started", "started_at", op, _time(text, value), text=text)
    prefix, key = _split_key(text, field) if "." in field else (field, "")
    if prefix in STAGES:
        return Filter("metric", key, op, _number(text, value, "metrics"), stage=STAGES[prefix], text=text)
    if prefix == "param":
        if op in ("=", "!="):
            return Filter("param", key, op, value, text=text)
        return Filter("param", key, op, _number(text, value, "params with < or >"), text=text)
    if prefix == "tag":
        if op not in ("=", "!="):
            raise FilterError(text, "tags compare with = or != only")
        return Filter("tag", key, op, value, text=text)
    raise FilterError(text, f"unknown field {field!r}; {_FIELD_HELP}")


def parse_filters(texts: list[str]) -> list[Filter]:
    texts = [t for t in texts if t.strip()]
    if len(texts) > MAX_FILTERS:
        raise FilterError(texts[MAX_FILTERS], f"at most {MAX_FILTERS} filters at once")
    return [parse_filter(t) for t in texts]


def parse_sort(text: str | None, order: str | None = None) -> Sort:
    """``started`` (newest first) unless told; a metric defaults to best first (its direction)."""
    text = (text or "started").strip()
    if order not in (None, "", "asc", "desc"):
        raise FilterError(f"order={order}", "order is asc or desc")
    if text in ("started", "duration"):
        return Sort(text, descending=order != "asc")
    if "." not in text:
        raise FilterError(f"sort={text}", "sort by started, duration, metric.<name>, holdout.<name>, "
                                          "param.<key> or tag.<key>")
    prefix, key = _split_key(f"sort={text}", text)
    if prefix in STAGES:
        if order in (None, ""):
            from mlplat.evaluation.metrics import direction_of

            try:
                descending = direction_of(key) == "maximize"
            except Exception:  # not a metric mlplat knows (an imported run's): highest first
                descending = True
        else:
            descending = order == "desc"
        return Sort("metric", key, STAGES[prefix], descending)
    if prefix in ("param", "tag"):
        return Sort(prefix, key, descending=order == "desc")
    raise FilterError(f"sort={text}", f"unknown sort field {prefix!r}; sort by started, duration, "
                                      "metric.<name>, holdout.<name>, param.<key> or tag.<key>")

