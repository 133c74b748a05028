"""Batch prediction for CSV and Parquet files, streamed in chunks so memory stays flat.

Each chunk is checked against the signature (the file's extra columns are passed
through, a missing feature column stops the run with one line naming it), predicted,
and appended to the output: the input columns, ``prediction``, ``model_version`` and ``proba.<class>``.
The output is written to a temporary name and renamed at the end, so a failed run
leaves no half-written file behind.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from mlplat.errors import ServingError
from mlplat.serving import signature as sig
from mlplat.serving.holder import Loaded

FORMATS = (".csv", ".parquet", ".pq")


def _format(path: Path, role: str) -> str:
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise ServingError(f"{role} file {str(path)!r} has suffix {suffix or '(none)'!r}: expected .csv or .parquet")
    return "csv" if suffix == ".csv" else "parquet"


def _chunks(path: Path, chunk_rows: int) -> Iterator[pd.DataFrame]:
    if _format(path, "input") == "csv":
        try:
            yield from pd.read_csv(path, chunksize=chunk_rows)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
            raise ServingError(f"input {str(path)!r} is not a readable CSV: {str(exc).splitlines()[0]}") from exc
        return
    try:
        pf = pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise ServingError(f"input {str(path)!r} is not a readable Parquet file: {exc}") from exc
    for batch in pf.iter_batches(batch_size=chunk_rows):
        yield batch.to_pandas()


def predict_file(loaded: Loaded, input_path: str | Path, output_path: str | Path, *,
                 chunk_rows: int = 50000) -> dict[str, Any]:
    src, dst = Path(input_path), Path(output_path)
    if not src.is_file():
        raise ServingError(f"input file {str(src)!r} not found")
    out_format = _format(dst, "output")
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{dst.name}.tmp")
    rows, chunks, writer = 0, 0, None
    try:
        for chunk in _chunks(src, chunk_rows):
            try:
                X = sig.check_frame(chunk, loaded.spec)
            except sig.SignatureMismatch as exc:
                raise ServingError(f"rows {rows}-{rows + len(chunk) - 1} of {str(src)!r}: {exc}") from exc
            preds, proba = loaded.predict(X)
            out = chunk.reset_index(drop=True)
            out["prediction"] = preds
            out["model_version"] = loaded.version  # which version answered: monitoring checks the file against it
            if proba is not None and loaded.classes is not None:
                for j, c in enumerate(loaded.classes):
                    out[f"proba.{c}"] = [p[j] for p in proba]
            if out_format == "csv":
                out.to_csv(tmp, mode="a" if chunks else "w", header=not chunks, index=False)
            else:
                table = pa.Table.from_pandas(out, preserve_index=False)
                if writer is None:
                    writer = pq.ParquetWriter(tmp, table.schema)
                writer.write_table(table.cast(writer.schema))
            rows += len(out)
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
    return {"rows": rows, "chunks": chunks, "output": str(dst)}
