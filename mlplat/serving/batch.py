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

Three stages overlap, because pyarrow's parsing and writing release the GIL: a reader
thread parses ahead of the model (started before the model loads, so scikit-learn's import
and the unpickling overlap the parse), the model scores one chunk at a time, and one writer
thread writes behind it. The reader holds at most ``READ_AHEAD_BYTES`` of parsed tables and
the writer ``AHEAD`` chunks, so memory stays flat. pyarrow's streaming CSV reader
(``open_csv``) parses on one thread only: 4.3 s for the benchmark's 560 MB file against 1.7 s
for ``read_csv`` on two cores, so the file is cut into blocks at line ends (what pyarrow
itself assumes with ``newlines_in_values=False``, its default) and each block is parsed by
``read_csv``. Measured in benchmarks/batch_predict (RESULTS.md).

The output is written to a temporary name and renamed at the end, so a failed run leaves no
half-written file behind.
"""

from __future__ import annotations

import os
import re
import threading
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from mlplat.errors import ServingError
from mlplat.serving import signature as sig

if TYPE_CHECKING:  # holder imports scikit-learn, which the reader overlaps (open_input)
    from mlplat.serving.holder import Loaded

FORMATS = (".csv", ".parquet", ".pq")
ARROW_TYPES = {"number": pa.float64(), "integer": pa.int64(), "boolean": pa.bool_(), "string": pa.string()}
MAX_BLOCK_BYTES = 64 << 20
MAX_LINE_BYTES = 64 << 20  # one row longer than this is refused, not held in memory
AHEAD = 2  # scored chunks the writer may hold: enough to keep both cores busy
# parsed input the reader may hold ahead of the model: what it parses while the model loads
READ_AHEAD_BYTES = 32 << 20
# column chunks read through a 1 MiB buffer as they are decoded, not fetched whole first
# (pre_buffer): for a 1M-row row group, 96 MB of Arrow memory at the peak instead of 302 MB,
# and 0.11 s instead of 0.87 s for the benchmark's file
PARQUET_READ_BUFFER = 1 << 20


def _format(path: Path, role: str) -> str:
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise ServingError(f"{role} file {str(path)!r} has suffix {suffix or '(none)'!r}: expected .csv or .parquet")
    return "csv" if suffix == ".csv" else "parquet"


def _column_names(path: Path) -> list[str]:
    """The CSV header (the first block only)."""
    reader = pacsv.open_csv(path, read_options=pacsv.ReadOptions(block_size=1 << 16))
    return reader.schema.names


def _skip_header(fh: BinaryIO) -> None:
    """Move past the header line (blank lines before it are skipped, as pyarrow skips them)."""
    for line in fh:
        if line.removeprefix(b"\xef\xbb\xbf").strip(b"\r\n \t"):
            return


def _blocks(fh: BinaryIO, size: int, what: str = "the input") -> Iterator[memoryview]:
    """The rest of the file in pieces of about ``size`` bytes, each ending at a line end
    (views of one read each: the file is read once and never copied). A line longer than
    ``MAX_LINE_BYTES`` is refused instead of being read whole into memory."""
    while True:
        start = fh.tell()
        buf = fh.read(size)
        if not buf:
            return
        cut = buf.rfind(b"\n") + 1
        while cut == 0:  # a line longer than the block: read on to its end
            if len(buf) > MAX_LINE_BYTES:
                raise ServingError(f"{what} is not a CSV file of rows: the line at byte {start} is longer than "
                                   f"{MAX_LINE_BYTES:,} bytes")
            more = fh.read(size)
            if not more:
                cut = len(buf)
                break
            end = more.find(b"\n")
            buf += more
            if end >= 0:
                cut = len(buf) - len(more) + end + 1
        if cut < len(buf):
            fh.seek(start + cut)
        if buf[:cut].strip():
            yield memoryview(buf)[:cut]


def _csv_error(path: Path, names: list[str], spec: sig.Spec, exc: pa.ArrowInvalid) -> ServingError:
    text = str(exc).splitlines()[0]
    m = re.search(r"In CSV column #(\d+): (.*)", text)
    if m and int(m.group(1)) < len(names):
        col = names[int(m.group(1))]
        want = next((f.kind for f in spec.features if f.name == col), None)
        return ServingError(f"input {str(path)!r}: feature {col!r}" + (f" must be {sig._EXPECT[want]}"
                            if want else "") + f": {m.group(2)}; fix the file")
    return ServingError(f"input {str(path)!r} is not a readable CSV: {text}")


def _csv_batches(path: Path, spec: sig.Spec, chunk_rows: int) -> Iterator[pa.Table]:
    try:
        names = _column_names(path)
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        raise ServingError(f"input {str(path)!r} is not a readable CSV: {str(exc).splitlines()[0]}") from exc
    types: dict[str, pa.DataType] = {f.name: ARROW_TYPES[f.kind] for f in spec.features if f.name in names}
    # a block holds about a chunk: estimated from the file's mean line length
    size = path.stat().st_size
    with open(path, "rb") as fh:
        head = fh.read(1 << 20)
        per_row = max(1, len(head) // max(1, head.count(b"\n")))
        block = int(min(MAX_BLOCK_BYTES, max(1 << 20, per_row * chunk_rows * 1.05), max(size, 1 << 16)))
        fh.seek(0)
        _skip_header(fh)
        first = True
        for data in _blocks(fh, block, f"input {str(path)!r}"):
            read = pacsv.ReadOptions(column_names=names, block_size=max(1 << 20, len(data) // (os.cpu_count() or 1)))
            try:
                table = pacsv.read_csv(pa.py_buffer(data), read_options=read, convert_options=pacsv.ConvertOptions(
                    column_types=types, strings_can_be_null=True))
            except pa.ArrowInvalid as exc:
                raise _csv_error(path, names, spec, exc) from exc
            if first:
                # the other columns keep the types the first block gave them, as a streaming
                # reader would (a column empty there is read as text from then on)
                first = False
                fixed = {f.name: pa.string() if pa.types.is_null(f.type) else f.type for f in table.schema}
                if any(pa.types.is_null(f.type) for f in table.schema):
                    table = table.cast(pa.schema(list(fixed.items())))
                types = fixed
            yield table


def _parquet_batches(path: Path, chunk_rows: int) -> Iterator[pa.RecordBatch]:
    try:
        pf = pq.ParquetFile(path, buffer_size=PARQUET_READ_BUFFER, pre_buffer=False)
    except (pa.ArrowInvalid, OSError) as exc:
        raise ServingError(f"input {str(path)!r} is not a readable Parquet file: {exc}") from exc
    yield from pf.iter_batches(batch_size=chunk_rows)


def _exact(tables: Iterator[pa.Table | pa.RecordBatch], chunk_rows: int) -> Iterator[pa.Table]:
    """Tables of exactly ``chunk_rows`` rows (the last one shorter), whatever the reader's blocks."""
    pending: list[pa.Table] = []
    held = 0
    for t in tables:
        pending.append(t if isinstance(t, pa.Table) else pa.Table.from_batches([t]))
        held += t.num_rows
        while held >= chunk_rows:
            table = pa.concat_tables(pending)
            yield table.slice(0, chunk_rows).combine_chunks()
            rest = table.slice(chunk_rows)
            pending, held = [rest], rest.num_rows
    if held:
        yield pa.concat_tables(pending).combine_chunks()


class _Ahead:
    """Tables produced by a thread while the caller works, up to ``budget`` bytes ahead of it.

    Reading starts when the object is made: `mlplat predict` makes it before loading the model,
    so the file is parsed while scikit-learn imports and the pickle loads (the parse releases
    the GIL). The producer's exception reaches the consumer after the tables made before it;
    ``close`` stops the producer."""

    def __init__(self, tables: Iterator[pa.Table], budget: int):
        self._tables, self._budget = tables, budget
        self._cond = threading.Condition()
        self._queue: deque[pa.Table] = deque()
        self._held = 0
        self._done = self._stop = False
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._produce, name="mlplat-batch-read", daemon=True)
        self._thread.start()

    def _produce(self) -> None:
        try:
            for table in self._tables:
                with self._cond:
                    while not self._stop and self._queue and self._held + table.nbytes > self._budget:
                        self._cond.wait()
                    if self._stop:
                        return
                    self._queue.append(table)
                    self._held += table.nbytes
                    self._cond.notify_all()
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, raised there
            self._error = exc
        finally:
            close = getattr(self._tables, "close", None)
            if close is not None:  # a stopped reader closes its file now, not when collected
                close()
            with self._cond:
                self._done = True
                self._cond.notify_all()

    def __iter__(self) -> _Ahead:
        return self

    def __next__(self) -> pa.Table:
        with self._cond:
            while not self._queue and not self._done:
                self._cond.wait()
            if self._queue:
                table = self._queue.popleft()
                self._held -= table.nbytes
                self._cond.notify_all()
                return table
            error, self._error = self._error, None
        if error is not None:
            raise error
        raise StopIteration

    def close(self) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        self._thread.join()


def check_output(path: str | Path) -> None:
    """Refuse an output name whose format is not known (before any work is done)."""
    _format(Path(path), "output")


def open_input(path: str | Path, spec: sig.Spec, chunk_rows: int) -> _Ahead:
    """The input file's chunks of ``chunk_rows`` rows, read ahead from now on; close it when done."""
    src = Path(path)
    if not src.is_file():
        raise ServingError(f"input file {str(src)!r} not found")
    tables = _csv_batches(src, spec, chunk_rows) if _format(src, "input") == "csv" else \
        _parquet_batches(src, chunk_rows)
    return _Ahead(_exact(tables, chunk_rows), READ_AHEAD_BYTES)


class _Output:
    """The scored chunks, written in order by one thread behind the model (pyarrow's writers
    release the GIL). A second thread formatting CSV text measured no faster, with the parse
    already on both cores, and held 20-60 MB more."""

    def __init__(self, path: Path, fmt: str):
        self.path, self.fmt = path, fmt
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mlplat-batch-write")
        self.pending: deque[Future] = deque()
        self.schema: pa.Schema | None = None
        self.writer: pacsv.CSVWriter | pq.ParquetWriter | None = None

    def put(self, table: pa.Table) -> None:
        if self.schema is None:
            self.schema = table.schema
            if self.fmt == "csv":
                self.writer = pacsv.CSVWriter(self.path, table.schema)
            else:
                # dictionary pages only for text: a float column tried as a dictionary first
                # costs 1.8 s instead of 0.5 s for the benchmark's file, and a larger file
                strings = [f.name for f in table.schema if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)]
                self.writer = pq.ParquetWriter(self.path, table.schema, use_dictionary=strings or False)
        table = table if table.schema.equals(self.schema) else table.cast(self.schema)
        self.pending.append(self.pool.submit(self.writer.write_table, table))
        while len(self.pending) > AHEAD:
            self.pending.popleft().result()

    def close(self) -> None:
        try:
            while self.pending:
                self.pending.popleft().result()
        finally:
            self.abort()

    def abort(self) -> None:
        for f in self.pending:
            f.cancel()
        self.pool.shutdown(wait=True)
        self.pending.clear()
        if self.writer is not None:
            self.writer.close()
            self.writer = None


def predict_file(loaded: Loaded, input_path: str | Path, output_path: str | Path, *,
                 chunk_rows: int = 10000, accept_violations: bool = False, tables: _Ahead | None = None
                 ) -> dict[str, Any]:
    """Score ``input_path`` into ``output_path``; ``tables`` is the input already opened with
    ``open_input`` (by a caller that started reading before it loaded the model)."""
    src, dst = Path(input_path), Path(output_path)
    if tables is None:
        check_output(dst)
        tables = open_input(src, loaded.spec, chunk_rows)
    rows, chunks, flagged = 0, 0, 0
    tmp = dst.with_name(f".{dst.name}.tmp")
    output = None
    try:
        dst.parent.mkdir(parents=True, exist_ok=True)
        output = _Output(tmp, _format(dst, "output"))
        for table in tables:
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
            out = out.append_column("model_version", pa.array(np.full(out.num_rows, loaded.version, np.int64)))
            if proba is not None and loaded.classes is not None:
                for j, c in enumerate(loaded.classes):
                    out = out.append_column(f"proba.{c}", pa.array(proba[:, j]))
            output.put(out)
            rows += out.num_rows
            chunks += 1
        output.close()
        tables.close()
        if chunks == 0:
            raise ServingError(f"input {str(src)!r} has no rows")
        os.replace(tmp, dst)
    except BaseException:
        tables.close()
        if output is not None:
            output.abort()
        tmp.unlink(missing_ok=True)
        raise
    return {"rows": rows, "chunks": chunks, "output": str(dst), "schema_violations": flagged}
