"""Batch prediction for CSV and Parquet files, streamed in chunks so memory stays flat.

Columnar from end to end: pyarrow reads the file (CSV with the signature's column types
given, so no type inference and a wrong value names its column), each chunk is checked
against the signature one column at a time (signature.check_table: null, type, range and
allowed-set masks with numpy), predicted once (predict_proba when the model has it, labels
from its argmax), and written by pyarrow: the input columns as read, ``prediction``,
``model_version`` (which version answered: monitoring checks a scored file against it) and
``proba.<class>``. A missing feature column or a value the signature refuses stops the run
with one line naming the column and the rows; schema violations are refused unless the
model's policy is ``accept`` (then counted in the result).

The output is written to a temporary name and renamed at the end, so a failed run leaves no
half-written file behind. Measured in benchmarks/batch_predict (RESULTS.md).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from mlplat.errors import ServingError
from mlplat.serving import signature as sig
from mlplat.serving.holder import Loaded

FORMATS = (".csv", ".parquet", ".pq")
ARROW_TYPES = {"number": pa.float64(), "integer": pa.int64(), "boolean": pa.bool_(), "string": pa.string()}
MAX_BLOCK_BYTES = 64 << 20


def _format(path: Path, role: str) -> str:
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise ServingError(f"{role} file {str(path)!r} has suffix {suffix or '(none)'!r}: expected .csv or .parquet")
    return "csv" if suffix == ".csv" else "parquet"


def _column_names(path: Path) -> list[str]:
    """The CSV header (the first block only)."""
    reader = pacsv.open_csv(path, read_options=pacsv.ReadOptions(block_size=1 << 16))
    return reader.schema.names


def _csv_batches(path: Path, spec: sig.Spec, chunk_rows: int) -> Iterator[pa.RecordBatch]:
    try:
        names = _column_names(path)
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        raise ServingError(f"input {str(path)!r} is not a readable CSV: {str(exc).splitlines()[0]}") from exc
    types = {f.name: ARROW_TYPES[f.kind] for f in spec.features if f.name in names}
    # a block holds about a chunk: estimated from the file's mean line length
    size = path.stat().st_size
    with open(path, "rb") as fh:
        head = fh.read(1 << 20)
    per_row = max(1, len(head) // max(1, head.count(b"\n")))
    block = int(min(MAX_BLOCK_BYTES, max(1 << 20, per_row * chunk_rows * 1.05), max(size, 1 << 16)))
    try:
        reader = pacsv.open_csv(path, read_options=pacsv.ReadOptions(block_size=block),
                                convert_options=pacsv.ConvertOptions(column_types=types, strings_can_be_null=True))
        yield from reader
    except pa.ArrowInvalid as exc:
        text = str(exc).splitlines()[0]
        m = re.search(r"In CSV column #(\d+): (.*)", text)
        if m and int(m.group(1)) < len(names):
            col = names[int(m.group(1))]
            want = next((f.kind for f in spec.features if f.name == col), None)
            raise ServingError(f"input {str(path)!r}: feature {col!r}" + (f" must be {sig._EXPECT[want]}"
                               if want else "") + f": {m.group(2)}; fix the file") from exc
        raise ServingError(f"input {str(path)!r} is not a readable CSV: {text}") from exc


def _parquet_batches(path: Path, chunk_rows: int) -> Iterator[pa.RecordBatch]:
    try:
        pf = pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise ServingError(f"input {str(path)!r} is not a readable Parquet file: {exc}") from exc
    yield from pf.iter_batches(batch_size=chunk_rows)


def _chunks(path: Path, spec: sig.Spec, chunk_rows: int) -> Iterator[pa.Table]:
    """Tables of exactly ``chunk_rows`` rows (the last one shorter), whatever the reader's blocks."""
    batches = _csv_batches(path, spec, chunk_rows) if _format(path, "input") == "csv" else \
        _parquet_batches(path, chunk_rows)
    pending: list[pa.RecordBatch] = []
    held = 0
    for batch in batches:
        pending.append(batch)
        held += batch.num_rows
        while held >= chunk_rows:
            table = pa.Table.from_batches(pending)
            yield table.slice(0, chunk_rows).combine_chunks()
            rest = table.slice(chunk_rows)
            pending, held = rest.to_batches(), rest.num_rows
    if held:
        yield pa.Table.from_batches(pending).combine_chunks()


def predict_file(loaded: Loaded, input_path: str | Path, output_path: str | Path, *,
                 chunk_rows: int = 50000, accept_violations: bool = False) -> dict[str, Any]:
    src, dst = Path(input_path), Path(output_path)
    if not src.is_file():
        raise ServingError(f"input file {str(src)!r} not found")
    out_format = _format(dst, "output")
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{dst.name}.tmp")
    rows, chunks, writer, flagged = 0, 0, None, 0
    try:
        for table in _chunks(src, loaded.spec, chunk_rows):
            where = f"rows {rows}-{rows + table.num_rows - 1} of {str(src)!r}"
            try:
                checked = sig.check_table(table, loaded.spec, offset=rows)
                if checked.violations and not accept_violations:
                    sig.refuse_violations(checked.violations)
            except sig.SignatureMismatch as exc:
                raise ServingError(f"{where}: {exc}") from exc
            flagged += sum(v["rows"] for v in checked.violations)
            labels, proba = loaded.predict_arrays(checked.rows)
            out = table.append_column("prediction", pa.array(labels))
            # which version answered: monitoring checks a scored file against it
            out = out.append_column("model_version", pa.array([loaded.version] * out.num_rows, pa.int64()))
            if proba is not None and loaded.classes is not None:
                for j, c in enumerate(loaded.classes):
                    out = out.append_column(f"proba.{c}", pa.array(proba[:, j]))
            if writer is None:
                schema = out.schema
                writer = pacsv.CSVWriter(tmp, schema) if out_format == "csv" else pq.ParquetWriter(tmp, schema)
            writer.write_table(out if out.schema.equals(schema) else out.cast(schema))
            rows += out.num_rows
            chunks += 1
        if writer is not None:
            writer.close()
            writer = None
        if chunks == 0:
            raise ServingError(f"input {str(src)!r} has no rows")
        os.replace(tmp, dst)
    except BaseException:
        if writer is not None:
            writer.close()
        tmp.unlink(missing_ok=True)
        raise
    return {"rows": rows, "chunks": chunks, "output": str(dst), "schema_violations": flagged}
