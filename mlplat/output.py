"""Formatting for listings: table (rich), json (streamed), csv. Front doors only format.

Every listing goes through ``emit_rows``: the command names its columns once (``Col``:
the row key, the table header, how the table shows a value) and the helper writes the
format asked for.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import math
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any


def when(ts: float | None) -> str:
    if ts is None:
        return ""
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def num(v: Any, digits: int = 4) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def _jsonable(v: Any) -> Any:
    if isinstance(v, float) and (math.isnan(v) or math.isinf(v)):
        return None
    return v


def emit_json(obj: Any) -> None:
    json.dump(obj, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")


def stream_json_list(rows: Iterable[dict]) -> None:
    """A JSON array written row by row, so a long listing never sits whole in memory."""
    out = sys.stdout
    out.write("[")
    for i, row in enumerate(rows):
        out.write(",\n" if i else "\n")
        out.write(json.dumps({k: _jsonable(v) for k, v in row.items()}, default=str))
    out.write("\n]\n")


def emit_csv(rows: Iterable[dict], columns: list[str]) -> None:
    writer = csv.DictWriter(sys.stdout, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _jsonable(row.get(k)) for k in columns})


def emit_table(title: str, columns: list[tuple[str, str]], rows: list[dict], *, caption: str | None = None) -> None:
    """columns: (key, header); values already formatted as strings by the caller."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, caption=caption, header_style="bold")
    for _, header in columns:
        table.add_column(header, overflow="fold")
    for row in rows:
        table.add_row(*[str(row.get(k, "")) for k, _ in columns])
    Console(width=200 if not sys.stdout.isatty() else None).print(table)


@dataclass(frozen=True)
class Col:
    """One column of a listing: the row ``key``, its table ``header`` and, when a table cell
    is not simply the value, ``show(row)`` for the cell's text."""

    key: str
    header: str
    show: Callable[[dict], Any] | None = None


_ROWS = object()  # emit_rows' default JSON: the rows themselves, streamed


def emit_rows(rows: Iterable[dict], fmt: str, *, title: str, columns: Sequence[Col],
              csv_columns: Sequence[str] | None = None, json_value: Any = _ROWS, empty: str | None = None) -> None:
    """Write a listing as ``fmt``: json (``json_value`` when given, else the rows streamed as
    an array), csv (``csv_columns``, else the columns' keys) or a table titled ``title``
    (``empty`` is its caption when there are no rows)."""
    if fmt == "json":
        if json_value is _ROWS:
            stream_json_list(rows)
        else:
            emit_json(json_value)
        return
    if fmt == "csv":
        emit_csv(rows, list(csv_columns or [c.key for c in columns]))
        return
    rows = list(rows)
    cells = [{c.key: c.show(r) if c.show else r.get(c.key, "") for c in columns} for r in rows]
    emit_table(title, [(c.key, c.header) for c in columns], cells, caption=None if rows else empty)
