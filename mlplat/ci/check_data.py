"""`mlplat check`'s data part: each dataset's bounded sample read and checked against its schema
with the validation `mlplat train` runs."""

from __future__ import annotations

from mlplat.ci.check_report import Report
from mlplat.errors import MlplatError

SAMPLE_ROWS = 2000


def _sample(dataset: dict, rows: int):
    """At most ``rows`` rows of the dataset, and whether that is all of it."""
    import pandas as pd

    from mlplat.data import sources

    source = str(dataset["source"])
    if source == "csv":
        path = sources._local_path(dataset)
        frame = pd.read_csv(path, nrows=rows + 1, **dict(dataset.get("read_options") or {}))
    elif source == "parquet":
        import pyarrow.parquet as pq

        path = sources._local_path(dataset)
        columns = (dataset.get("read_options") or {}).get("columns")
        batch = next(pq.ParquetFile(path).iter_batches(batch_size=rows + 1, columns=columns), None)
        frame = batch.to_pandas() if batch is not None else pd.DataFrame()
    elif source == "sql":
        query = str(dataset.get("query") or "").strip().rstrip(";")
        limited = {**dataset, "query": f"SELECT * FROM ({query}) AS mlplat_check LIMIT {rows + 1}"} if query else dataset
        frame = sources.load(limited)
    else:  # sklearn / synthetic: generated in memory, already small
        frame = sources.load(dataset)
    complete = len(frame) <= rows
    return frame.head(rows), complete


def _check_data(dataset: dict, where: str, report: Report, rows: int) -> None:
    from mlplat.data import validation
    from mlplat.errors import DataError

    try:
        frame, complete = _sample(dataset, rows)
        # min_rows speaks of the whole dataset: a truncated sample cannot break it
        cfg = dataset if complete else {**dataset, "min_rows": min(int(dataset.get("min_rows") or 1), len(frame))}
        validation.validate(frame, cfg)
        report.count("datasets sampled")
    except DataError as exc:
        if not report.missing_shipped_data(where, exc):
            report.add(where, "columns" if "schema" in str(exc) else "source", str(exc), "data")
    except MlplatError as exc:
        report.add(where, "source", str(exc), "data")
    except Exception as exc:  # a reader's own error (parse error, driver): one line
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        report.add(where, "source", f"dataset {dataset.get('name')!r} cannot be read: {first}; fix the source "
                                    f"or the dataset's read options", "data")
