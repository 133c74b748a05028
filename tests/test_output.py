"""mlplat.output.emit_rows: one declaration of a listing's columns gives its table, JSON and CSV."""

from __future__ import annotations

import csv
import io
import json
import math

from mlplat import output

ROWS = [{"id": "a1", "value": 0.5, "started_at": 0.0, "note": None},
        {"id": "b2", "value": math.nan, "started_at": 86400.0, "note": "x, \"quoted\""}]
COLUMNS = [output.Col("id", "run"), output.Col("value", "score", lambda r: output.num(r["value"], 2)),
           output.Col("started", "started (UTC)", lambda r: output.when(r["started_at"]))]


def test_json_streams_the_rows_and_nan_becomes_null(capsys):
    output.emit_rows(iter(ROWS), "json", title="t", columns=COLUMNS)
    assert json.loads(capsys.readouterr().out) == [{**ROWS[0]}, {**ROWS[1], "value": None}]


def test_json_value_replaces_the_rows(capsys):
    output.emit_rows(ROWS, "json", title="t", columns=COLUMNS, json_value={"rows": 2})
    assert json.loads(capsys.readouterr().out) == {"rows": 2}


def test_csv_has_the_named_columns_with_raw_values(capsys):
    output.emit_rows(ROWS, "csv", title="t", columns=COLUMNS, csv_columns=["id", "value", "note"])
    got = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert got == [{"id": "a1", "value": "0.5", "note": ""}, {"id": "b2", "value": "", "note": 'x, "quoted"'}]


def test_table_shows_headers_and_formatted_cells(capsys):
    output.emit_rows(ROWS, "table", title="Runs", columns=COLUMNS)
    text = capsys.readouterr().out
    assert "Runs" in text and "started (UTC)" in text and "0.50" in text and "1970-01-02 00:00:00" in text


def test_an_empty_table_says_so(capsys):
    output.emit_rows([], "table", title="Runs", columns=COLUMNS, empty="no runs match")
    assert "no runs match" in capsys.readouterr().out
