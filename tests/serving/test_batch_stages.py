"""The batch path's three overlapping stages, each against the plain pyarrow call it replaces:
the file cut at line ends and parsed block by block equals one ``read_csv`` of the whole file;
the read-ahead hands over every table in order, then the reader's error, within its budget,
and stops when closed; the CSV written chunk by chunk behind the model equals one
``write_csv``; Parquet keeps dictionary pages for text only. And `mlplat predict` starts
reading before scikit-learn is imported (the overlap the batch benchmark measures)."""

from __future__ import annotations

import io
import subprocess
import sys
import threading
import time

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from kit import REPO

from mlplat.errors import ServingError
from mlplat.serving import batch
from mlplat.serving.signature import Spec


def _signature(*features: tuple[str, str]) -> Spec:
    return Spec.from_signature({"inputs": [{"name": n, "dtype": t, "nullable": True} for n, t in features]})


@pytest.mark.parametrize("size", [7, 64, 1 << 20])
def test_blocks_end_at_line_ends_and_cover_the_file(size):
    text = b"a,b\r\n" + b"".join(b"%d,%s\r\n" % (i, b"x" * (i % 50)) for i in range(500)) + b"last,row"
    fh = io.BytesIO(text)
    batch._skip_header(fh)
    blocks = [bytes(b) for b in batch._blocks(fh, size)]
    assert b"".join(blocks) == text[len(b"a,b\r\n"):]
    assert all(b.endswith(b"\n") for b in blocks[:-1]) and blocks[-1].endswith(b"last,row")


def test_the_header_is_found_after_a_bom_and_blank_lines():
    fh = io.BytesIO(b"\n\xef\xbb\xbf\n a,b\n1,2\n")
    batch._skip_header(fh)
    assert fh.read() == b"1,2\n"


def test_block_parsing_equals_one_read_csv(tmp_path):
    rng = np.random.default_rng(3)
    n = 120_000  # the first block is 1 MiB (about 37,000 of these rows)
    path = tmp_path / "in.csv"
    rows = ["x,k,note,empty_first"]
    for i in range(n):
        note = "" if i < 60_000 else f"n{i % 7}"  # empty in the whole first block
        rows.append(f"{rng.normal():.17g},{int(rng.integers(0, 9))},{note},{'' if i < 60_000 else i}")
    path.write_text("\n".join(rows) + "\n")
    spec = _signature(("x", "float64"), ("k", "int64"))
    got = pa.concat_tables(batch._csv_batches(path, spec, chunk_rows=1000))
    whole = pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(
        column_types={"x": pa.float64(), "k": pa.int64(), "note": pa.string(), "empty_first": pa.string()},
        strings_can_be_null=True))
    assert got.num_rows == n
    assert got.schema.field("empty_first").type == pa.string()  # empty where the types were fixed: text
    assert got.equals(whole)


def test_a_bad_value_names_its_column_whatever_block_it_is_in(tmp_path):
    path = tmp_path / "in.csv"
    path.write_text("x,k\n" + "".join(f"{i}.5,{i}\n" for i in range(20_000)) + "1.5,seven\n")
    with pytest.raises(ServingError, match=r"feature 'k' must be a whole number: .*'seven'"):
        list(batch._csv_batches(path, _signature(("x", "float64"), ("k", "int64")), chunk_rows=1000))


def _tables(n: int, rows: int = 100):
    for i in range(n):
        yield pa.table({"i": np.arange(i * rows, (i + 1) * rows)})


def test_read_ahead_hands_over_every_table_in_order_then_the_error():
    def failing():
        yield from _tables(5)
        raise ServingError("input 'x': broken at the end")

    ahead = batch._Ahead(failing(), budget=1 << 30)
    got = []
    with pytest.raises(ServingError, match="broken at the end"):
        for t in ahead:
            got.append(t)
    assert pa.concat_tables(got).column("i").to_pylist() == list(range(500))
    ahead.close()


def test_read_ahead_stays_within_its_budget_and_stops_when_closed():
    made, closed = [], []

    def counted():
        try:
            for t in _tables(1000):
                made.append(t)
                yield t
        finally:
            closed.append(True)  # where a reader's file is closed

    one = next(_tables(1)).nbytes
    ahead = batch._Ahead(counted(), budget=3 * one)
    deadline = time.monotonic() + 5
    while len(made) < 4 and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.1)
    assert len(made) == 4  # three held, the fourth made and waiting for room
    assert next(ahead).column("i")[0].as_py() == 0
    ahead.close()
    assert not ahead._thread.is_alive() and len(made) < 10 and closed == [True]


def test_exact_chunks_whatever_the_blocks():
    blocks = [pa.table({"i": np.arange(a, b)}) for a, b in [(0, 7), (7, 8), (8, 30), (30, 31)]]
    chunks = list(batch._exact(iter(blocks), 10))
    assert [c.num_rows for c in chunks] == [10, 10, 10, 1]
    assert pa.concat_tables(chunks).column("i").to_pylist() == list(range(31))


def _scored(n: int) -> pa.Table:
    rng = np.random.default_rng(1)
    return pa.table({"x": rng.normal(size=n), "city": pa.array([f"c{i % 5}" for i in range(n)]),
                     "prediction": rng.integers(0, 2, n), "proba.1": rng.random(n)})


def _write_in_chunks(path, fmt: str, table: pa.Table) -> None:
    out = batch._Output(path, fmt)
    for i in range(0, table.num_rows, 1000):
        out.put(table.slice(i, 1000))
    out.close()


def test_csv_written_chunk_by_chunk_equals_one_write_csv(tmp_path):
    table = _scored(25_000)
    _write_in_chunks(tmp_path / "o.csv", "csv", table)
    whole = io.BytesIO()
    pacsv.write_csv(table, whole)
    assert (tmp_path / "o.csv").read_bytes() == whole.getvalue()


def test_parquet_keeps_dictionary_pages_for_text_only(tmp_path):
    table = _scored(5000)
    _write_in_chunks(tmp_path / "o.parquet", "parquet", table)
    assert pq.read_table(tmp_path / "o.parquet").equals(table)
    meta = pq.ParquetFile(tmp_path / "o.parquet").metadata.row_group(0)
    encodings = {meta.column(j).path_in_schema: meta.column(j).encodings for j in range(meta.num_columns)}
    assert any("DICTIONARY" in e for e in encodings["city"])
    assert not any("DICTIONARY" in e for e in encodings["x"])


def test_a_failed_run_leaves_no_file_and_no_thread(tmp_path):
    path = tmp_path / "in.csv"
    path.write_text("x\n" + "".join(f"{i}.5\n" for i in range(30_000)) + "oops\n")
    before = threading.active_count()
    tables = batch.open_input(path, _signature(("x", "float64")), 1000)
    with pytest.raises(ServingError, match="feature 'x' must be a finite number: .*'oops'"):
        for _ in tables:
            pass
    tables.close()
    assert threading.active_count() == before


def test_predict_starts_reading_before_scikit_learn_is_imported():
    code = ("import sys; import mlplat.ops.serving; "
            "print('sklearn' in sys.modules, 'mlplat.serving.holder' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_a_line_longer_than_the_limit_is_refused_not_held(monkeypatch):
    monkeypatch.setattr(batch, "MAX_LINE_BYTES", 1000)
    fh = io.BytesIO(b"a,b\n1,2\n" + b"x" * 5000 + b"\n3,4\n")
    batch._skip_header(fh)
    blocks = batch._blocks(fh, 64, "input 'big.csv'")
    assert bytes(next(blocks)) == b"1,2\n"
    with pytest.raises(ServingError, match=r"input 'big.csv' is not a CSV file of rows: the line at byte 8 is "
                                           r"longer than 1,000 bytes"):
        next(blocks)
